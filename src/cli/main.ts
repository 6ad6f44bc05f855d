import { Command, CommanderError } from 'commander';
import { exitCodeOf, TributaryError } from '../core/errors.js';
import { redactUrl } from '../config/dsn.js';
import { registerSync } from './sync.js';
import { registerDemo } from './demo.js';
import { registerVerify } from './verify.js';
import { registerMove } from './move.js';
import { registerStatus, registerSwitchSource } from './status.js';
import { registerCheck } from './check.js';
import { registerRelay } from './relay.js';
import { registerCluster } from './cluster.js';
import { registerWorker } from './worker.js';
import { tuneHeap } from './heap.js';
import { registerCompletion } from './completion.js';

/**
 * Exit codes (README, docs): 0 clean stop; 1 a runtime failure (a server refused, a requirement is
 * not met, the stream failed); 2 bad usage or configuration (commander's errors: unknown flag,
 * missing argument; and TRIB_CONFIG_INVALID, TRIB_DSN_INVALID, TRIB_NO_TABLES: USAGE_CODES).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  tuneHeap();
  const program = new Command();
  program
    .name('tributary')
    .description('Keep a target database continuously in step with a source database: copy, then stream every change.')
    .version('0.1.0')
    .exitOverride()
    // An unknown flag gets commander's suggestion ("Did you mean --threads?") and this one line,
    // not the whole help, which would push the error off the screen.
    .showHelpAfterError("(run 'tributary --help' for the commands)")
    // Commander's own errors may quote an argument (a URL given without --source): scrubbed too.
    // Subcommands copy this setting when they are created, below.
    .configureOutput({ outputError: (text, write) => write(redactUrl(text)) });
  registerSync(program, { env });
  registerDemo(program, { env });
  registerVerify(program, { env });
  registerMove(program, { env });
  registerStatus(program, { env });
  registerSwitchSource(program, { env });
  registerCheck(program, { env });
  registerRelay(program, { env });
  registerWorker(program, { env });
  registerCluster(program, { env });
  registerCompletion(program);
  // Each command points at its own help.
  for (const cmd of program.commands) cmd.showHelpAfterError(`(run 'tributary ${cmd.name()} --help' for its options)`);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof TributaryError) {
      process.stderr.write(`tributary: error ${err.code}: ${redactUrl(err.message)}\n`);
      return exitCodeOf(err);
    }
    process.stderr.write(`tributary: unexpected error: ${redactUrl((err as Error)?.stack ?? String(err))}\n`);
    return 1;
  }
}
