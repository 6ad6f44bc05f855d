import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The house's layout rules (issue 11, docs: DESIGN.md "Rules of the house"), as a ratchet over src/:
 *
 * 1. `cross-engine import`: no engine folder imports another engine's folder. An engine folder is
 *    `src/engines/<e>/` (its source and target sides alike).
 * 2. `engine test`: no `engine ===` / `engine !==` comparison (`dsn.engine === 'mysql'`,
 *    `sEngine === tEngine`, …) outside engine folders and `src/engines/registry.ts`: callers branch
 *    on capabilities, never on engine names.
 * 3. `presence test`: no caller decides a policy by whether an optional member of a seam
 *    (ChangeSource, Target and the role-sized interfaces that replace them) exists:
 *    `source.valueStats && …`, `!target.check`, `x.chunkDigest !== undefined`, `target.prepareWrites?.(…)`.
 *    Found with the type checker: a reference counts only when it resolves to an optional member
 *    declared on one of those interfaces in src/core/ (a status field of the same name does not).
 *
 * 4. `deep import`: nothing outside an engine's folder imports inside it except through its
 *    `index.ts` (`src/engines/<e>/index.ts`, loaded by the registry; src/index.ts re-exports from it).
 *
 * ALLOWED lists today's violations by file and code snippet (no line numbers, so edits elsewhere do
 * not matter). The test fails on any violation not listed AND on any listed entry that no longer
 * occurs: a step that removes a violation deletes its entry, so the list only shrinks. Issue 11 is
 * done when ALLOWED is empty.
 */
const ALLOWED: readonly string[] = [
  // cross-engine imports
  // engine tests outside engine folders
  // presence tests of optional seam members
];

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** The seam interfaces whose optional members must not be used as policies. */
const SEAMS = new Set([
  'ChangeSource',
  'Target',
  'SourceAdmin',
  'SnapshotReader',
  'ChangeLog',
  'TargetWriter',
  'CheckpointStore',
  'TargetReader',
]);

const ENGINE_FOLDER = /^src\/engines\/([^/]+)\//;
/** The engine a file belongs to, or undefined outside engine folders. */
const engineOf = (file: string): string | undefined => ENGINE_FOLDER.exec(file)?.[1];
const ENGINE_TEST_EXEMPT = new Set(['src/engines/registry.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Every violation in src/, as "file | rule | snippet" (the same form as ALLOWED). */
function violations(): string[] {
  const files = sourceFiles(SRC);
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const program = ts.createProgram(files, { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const found: string[] = [];

  /** True when `node` names an optional member declared on a seam interface in src/core/. */
  const isOptionalSeamMember = (node: ts.PropertyAccessExpression): boolean => {
    const symbol = checker.getSymbolAtLocation(node.name);
    return (symbol?.declarations ?? []).some(
      (d) =>
        (ts.isMethodSignature(d) || ts.isPropertySignature(d)) &&
        d.questionToken !== undefined &&
        ts.isInterfaceDeclaration(d.parent) &&
        SEAMS.has(d.parent.name.text) &&
        relative(ROOT, d.getSourceFile().fileName).startsWith('src/core/'),
    );
  };

  /** The snippet for a presence test: the member access with the operator that tests it. */
  const presenceSnippet = (node: ts.PropertyAccessExpression): string | undefined => {
    const text = oneLine(node.getText());
    let at: ts.Node = node;
    while (ts.isParenthesizedExpression(at.parent) || ts.isNonNullExpression(at.parent)) at = at.parent;
    const p = at.parent;
    if (ts.isCallExpression(p) && p.expression === at) return p.questionDotToken ? `${text}?.(` : undefined;
    if (ts.isPrefixUnaryExpression(p) && p.operator === ts.SyntaxKind.ExclamationToken) return `!${text}`;
    if (ts.isTypeOfExpression(p)) return `typeof ${text}`;
    if (ts.isConditionalExpression(p) && p.condition === at) return `${text} ?`;
    if (ts.isIfStatement(p) && p.expression === at) return `if (${text})`;
    if (ts.isWhileStatement(p) && p.expression === at) return `while (${text})`;
    if (ts.isBinaryExpression(p)) {
      const op = p.operatorToken.kind;
      const opText = p.operatorToken.getText();
      if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken) {
        return p.left === at ? `${text} ${opText}` : `${opText} ${text}`;
      }
      const eq = [
        ts.SyntaxKind.EqualsEqualsEqualsToken,
        ts.SyntaxKind.ExclamationEqualsEqualsToken,
        ts.SyntaxKind.EqualsEqualsToken,
        ts.SyntaxKind.ExclamationEqualsToken,
      ];
      if (eq.includes(op)) return oneLine(p.getText());
    }
    return undefined;
  };

  const namesEngine = (e: ts.Expression): boolean => {
    while (ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    if (ts.isIdentifier(e)) return /engine$/i.test(e.text);
    if (ts.isPropertyAccessExpression(e)) return /engine$/i.test(e.name.text);
    return false;
  };

  for (const sf of program.getSourceFiles()) {
    const file = relative(ROOT, sf.fileName);
    if (!file.startsWith('src/')) continue;
    const engine = engineOf(file);
    const report = (rule: string, snippet: string) => found.push(`${file} | ${rule} | ${snippet}`);

    const checkImport = (spec: ts.Expression | undefined) => {
      if (!spec || !ts.isStringLiteralLike(spec) || !spec.text.startsWith('.')) return;
      const target = relative(ROOT, resolve(dirname(sf.fileName), spec.text));
      const into = engineOf(target);
      if (into !== undefined && engine !== undefined && into !== engine) report('cross-engine import', `'${spec.text}'`);
      if (into !== undefined && engine === undefined && /^src\/engines\/[^/]+\//.test(target) && !/^src\/engines\/[^/]+\/index\.js$/.test(target)) {
        report('deep import', `'${spec.text}'`);
      }
    };

    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) checkImport(node.moduleSpecifier);
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) checkImport(node.arguments[0]);
      else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
        checkImport(node.moduleReference.expression);
      } else if (ts.isBinaryExpression(node)) {
        const op = node.operatorToken.kind;
        const equality =
          op === ts.SyntaxKind.EqualsEqualsEqualsToken ||
          op === ts.SyntaxKind.ExclamationEqualsEqualsToken ||
          op === ts.SyntaxKind.EqualsEqualsToken ||
          op === ts.SyntaxKind.ExclamationEqualsToken;
        if (equality && engine === undefined && !ENGINE_TEST_EXEMPT.has(file) && (namesEngine(node.left) || namesEngine(node.right))) {
          report('engine test', oneLine(node.getText()));
        }
      } else if (ts.isPropertyAccessExpression(node) && isOptionalSeamMember(node)) {
        const snippet = presenceSnippet(node);
        if (snippet !== undefined) report('presence test', snippet);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

/** a minus b, as multisets. */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

describe('layout ratchet (issue 11)', () => {
  const found = violations();

  it('finds the violations it knows of (the scanner still works)', () => {
    // A scanner that silently finds nothing would pass the two tests below only while ALLOWED is empty.
    if (ALLOWED.length > 0) expect(found.length).toBeGreaterThan(0);
  });

  it('has no violation that is not on the allow-list', () => {
    expect(minus(found, ALLOWED), 'new layout violations: fix them (see the rules at the top of this file)').toEqual([]);
  });

  it('has no allow-list entry that no longer occurs (delete it: the list only shrinks)', () => {
    expect(minus(ALLOWED, found), 'fixed violations still on the allow-list: delete these entries').toEqual([]);
  });

  it('loads engines lazily: the CLI\'s static imports reach no engine folder and no database driver', () => {
    // What `tributary --version` or a PostgreSQL → PostgreSQL sync loads before the registry picks
    // an engine: an engine folder reached by a static import would load its drivers for every run.
    const DRIVERS = new Set(['mysql2', 'mysql2/promise', '@vlasky/zongji', 'pg', 'pg-logical-replication', 'pg-copy-streams', 'etcd3']);
    const seen = new Set<string>();
    const drivers: string[] = [];
    const stack = [join(SRC, 'cli/main.ts')];
    while (stack.length) {
      const file = stack.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)) {
        const spec = m[1] as string;
        if (!spec.startsWith('.')) {
          if (DRIVERS.has(spec)) drivers.push(`${relative(ROOT, file)} → ${spec}`);
          continue;
        }
        const next = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        if (existsSync(next)) stack.push(next);
      }
    }
    const reached = [...seen].map((f) => relative(ROOT, f));
    expect(reached).toContain('src/engines/registry.ts');
    expect(reached.filter((f) => engineOf(f) !== undefined)).toEqual([]);
    expect(drivers).toEqual([]);
  });
});
