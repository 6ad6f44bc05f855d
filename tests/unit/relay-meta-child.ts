// The child of relay-log.test.ts's relay.json crash test: replaces DIR/relay.json (argv[2]) with a
// changed copy and is killed (SIGKILL, by itself) after the temporary file is written and fsynced,
// before the rename.
import { readMeta, writeMeta } from '../../src/relay/meta.js';

const dir = process.argv[2]!;
const meta = await readMeta(dir);
await writeMeta(dir, { ...meta!, sourceId: 'half-written' }, { beforeRename: () => process.kill(process.pid, 'SIGKILL') });
