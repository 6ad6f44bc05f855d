/**
 * `tributary completion bash|zsh|fish`: each script, printed by the CLI itself, loaded into the real
 * shell and driven as the shell's completion machinery drives it — bash through COMP_WORDS and the
 * function `complete -p` names, fish through `complete -C`, zsh interactively in a pseudo-terminal
 * and through the function that computes the candidates for $words/$CURRENT — completes commands,
 * options, listed values and files, and
 * knows every option the commander program has.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_FROM_SOURCE } from '../helpers/mysql.js';

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tributary.js');

async function cli(args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, TRIBUTARY_FROM_SOURCE: CLI_FROM_SOURCE } });
  return stdout;
}

let dir: string;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    scripts[shell] = join(dir, `tributary.${shell}`);
    writeFileSync(scripts[shell]!, await cli(['completion', shell]));
  }
  writeFileSync(join(dir, 'sync-config.yaml'), 'threads: 2\n');
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a shell on a script; stdout. */
async function shell(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await exec(cmd, args, { env: { PATH: process.env.PATH, HOME: dir, TERM: 'dumb' }, cwd: dir });
  return stdout;
}

/**
 * bash: each command line (words separated by spaces; a trailing space starts an empty word) as
 * bash's programmable completion calls the function `complete -p tributary` names: COMP_WORDS,
 * COMP_CWORD, COMP_LINE, COMP_POINT set, and the function called with the command, the current
 * word and the previous one. Returns the `complete -p` line and COMPREPLY for each line.
 */
async function bashComplete(lines: string[]): Promise<{ spec: string; replies: string[][] }> {
  const driver = `
source ${JSON.stringify(scripts.bash)}
spec=$(complete -p tributary)
echo "$spec"
fn=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<<"$spec")
drive() {
  COMP_LINE=$1; COMP_POINT=\${#1}
  read -r -a COMP_WORDS <<<"$1"
  [[ $1 == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  "$fn" tributary "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\\n' "$(IFS=' '; echo "\${COMPREPLY[*]}")"
}
${lines.map((l) => `drive ${JSON.stringify(l)}`).join('\n')}
`;
  const out = (await shell('bash', ['--norc', '--noprofile', '-c', driver])).split('\n');
  return { spec: out[0]!, replies: lines.map((_, i) => (out[i + 1] ?? '').split(' ').filter(Boolean)) };
}

describe('bash', () => {
  it('registers a completion function and completes commands, options, values and files', async () => {
    const { spec, replies } = await bashComplete([
      'tributary sy',
      'tributary sync --thr',
      'tributary sync --progress p',
      'tributary sync --source mysql://u@h/db --tar',
      'tributary verify --log-level ',
      'tributary completion ',
      'tributary help ve',
      `tributary sync --config ${join(dir, 'sync-c')}`,
      'tributary --v',
    ]);
    expect(spec).toBe('complete -F _tributary tributary');
    expect(replies).toEqual([
      ['sync'],
      ['--threads'],
      ['plain'],
      ['--target', '--target-password-file'],
      ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
      ['bash', 'zsh', 'fish'],
      ['verify'],
      [join(dir, 'sync-config.yaml')],
      ['--version'],
    ]);
  });

  it('offers every command and every option that --help lists (generated from the program)', async () => {
    const helpCommands = [...(await cli(['--help'])).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!);
    expect(helpCommands).toContain('completion');
    const { replies } = await bashComplete(['tributary ', 'tributary sync --', 'tributary move --']);
    expect(replies[0]!.sort()).toEqual([...new Set(helpCommands)].sort());
    for (const [i, command] of [[1, 'sync'], [2, 'move']] as const) {
      const helpOptions = [...(await cli([command, '--help'])).matchAll(/(?:^|, |\s)(--[a-z][\w-]*)/gm)].map((m) => m[1]!);
      expect(helpOptions.length).toBeGreaterThan(20);
      expect(replies[i]!.sort()).toEqual([...new Set(helpOptions)].sort());
    }
  });

  it('rejects a shell it does not know, as a usage error', async () => {
    const r = await exec(process.execPath, [BIN, 'completion', 'tcsh'], { env: { ...process.env, TRIBUTARY_FROM_SOURCE: CLI_FROM_SOURCE } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish/);
  });
});

describe('fish', () => {
  /** `complete -C LINE` in fish with the script loaded: the candidates (first column). */
  async function fishComplete(line: string): Promise<string[]> {
    const out = await shell('fish', ['--no-config', '-c', `source ${scripts.fish}; complete -C ${JSON.stringify(line)}`]);
    return out.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!);
  }

  it('completes commands, options and listed values', async () => {
    expect(await fishComplete('tributary sy')).toEqual(['sync']);
    expect(await fishComplete('tributary sync --thr')).toEqual(['--threads']);
    expect((await fishComplete('tributary sync --progress ')).sort()).toEqual(['auto', 'json', 'none', 'plain']);
    expect((await fishComplete('tributary completion ')).sort()).toEqual(['bash', 'fish', 'zsh']);
    // A file option completes files; the others do not.
    expect(await fishComplete(`tributary sync --config ${join(dir, 'sync-c')}`)).toEqual([join(dir, 'sync-config.yaml')]);
    expect(await fishComplete(`tributary sync --threads ${join(dir, 'sync-c')}`)).toEqual([]);
  });
});

describe('zsh', () => {
  /**
   * Real zsh completion: an interactive `zsh -f` in a pseudo-terminal (zsh/zpty) runs compinit,
   * sources the script, types LINE and Tab; compadd is wrapped to record what it adds (after zsh
   * filtered it by the prefix typed). Returns the distinct matches, in order.
   */
  async function zshTab(line: string): Promise<string[]> {
    const out = join(dir, `zsh-${Math.random().toString(36).slice(2)}.out`);
    const driver = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT="" RPROMPT=""'
zpty -w z 'autoload -U compinit && compinit -u -D'
zpty -w z ${JSON.stringify(`source ${scripts.zsh}`)}
zpty -w z 'compadd() { local -a hits; builtin compadd -O hits "$@"; print -rl -- $hits >> ${out}; builtin compadd "$@"; }'
zpty -w z 'bindkey "^I" complete-word'
zpty -n -w z ${JSON.stringify(line)}$'\t'
for i in {1..100}; do [[ -s ${out} ]] && break; sleep 0.1; done
sleep 0.5
zpty -d z
`;
    await shell('zsh', ['-f', '-c', driver]);
    let text = '';
    try {
      text = readFileSync(out, 'utf8');
    } catch {
      /* nothing was offered */
    }
    return [...new Set(text.split('\n').filter(Boolean))];
  }

  it('completes in a real interactive zsh: commands, options, listed values', async () => {
    expect(await zshTab('tributary sy')).toEqual(['sync']);
    expect(await zshTab('tributary sync --thr')).toEqual(['--threads']);
    expect(await zshTab('tributary sync --progress p')).toEqual(['plain']);
    expect(await zshTab('tributary completion f')).toEqual(['fish']);
  });


  /** The script sourced in `zsh -f` (compdef stubbed: no compinit), candidates for each line. */
  async function zshCandidates(lines: string[]): Promise<string[][]> {
    const driver = `compdef() { :; }
source ${scripts.zsh}
t() { words=(\${(z)1}); [[ $1 == *' ' ]] && words+=(''); CURRENT=\${#words}; _tributary_candidates; print -r -- "\${(pj:\\t:)reply}"; }
${lines.map((l) => `t ${JSON.stringify(l)}`).join('\n')}
`;
    const out = await shell('zsh', ['-f', '-c', driver]);
    return out.split('\n').slice(0, lines.length).map((l) => l.split('\t'));
  }

  it('parses, and finds the candidates: commands and options with descriptions, values, files', async () => {
    await shell('zsh', ['-n', scripts.zsh!]);
    const [commands, options, values, files, shells] = await zshCandidates([
      'tributary sy',
      'tributary sync --thr',
      'tributary sync --progress p',
      'tributary sync --config x',
      'tributary completion ',
    ]);
    expect(commands![0]).toBe('commands');
    expect(commands).toContain('sync:copy the source tables into the target, then stream every change until stopped');
    expect(options![0]).toBe('options');
    expect(options).toContain('--threads:parallel copy workers (default 4)');
    expect(values).toEqual(['choices', 'auto', 'plain', 'json', 'none']);
    expect(files).toEqual(['files']);
    expect(shells!.slice(0, 1)).toEqual(['commands']);
    expect(shells!.filter(Boolean).slice(1)).toEqual(['bash', 'zsh', 'fish']);
  });
});
