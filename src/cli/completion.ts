import { Argument, type Command, type Option } from 'commander';

/**
 * `tributary completion bash|zsh|fish`: prints a completion script generated from the commander
 * program itself (its commands, their options and arguments), so a new flag completes as soon as
 * it is registered, with nothing to keep in step by hand.
 *
 * Every script completes the same things: command names (nested ones too), the options of the
 * command typed so far, the values of an option whose values are listed (`--progress auto|…`),
 * file names after an option that takes a file, and the choices of a positional argument.
 */

/** What the scripts know of one option. */
export interface OptionModel {
  readonly names: readonly string[];
  readonly description: string;
  /** Whether the option takes a value (`--threads <n>`), so the next word is not a command. */
  readonly takesValue: boolean;
  /** Whether that value is a file name (`<file>`): completed from the file system. */
  readonly file: boolean;
  /** The values it accepts, when they are listed; empty otherwise. */
  readonly choices: readonly string[];
}

/** What the scripts know of one command; the program itself is the root, with path ''. */
export interface CommandModel {
  /** Command names from the program down to this one, space-separated ('' for the program). */
  readonly path: string;
  readonly name: string;
  readonly description: string;
  readonly options: readonly OptionModel[];
  readonly commands: readonly CommandModel[];
  /** Values of its positional arguments, when listed (`completion <shell>`, `help [command]`). */
  readonly args: readonly string[];
}

/**
 * Values listed in flags (`<on|off>`) or in the description, as this CLI writes them
 * ('auto | plain | json | none (default auto)', 'resume the binlog by auto | gtid | file').
 */
function listedValues(o: Option): string[] {
  if (o.argChoices?.length) return [...o.argChoices];
  const inFlags = /<([\w-]+(?:\|[\w-]+)+)>/.exec(o.flags);
  if (inFlags) return inFlags[1]!.split('|');
  const inText = /\b([a-z][\w-]*(?: \| [a-z][\w-]*)+)(?=$|[\s;,)])/.exec(o.description);
  return inText ? inText[1]!.split(' | ') : [];
}

function optionModel(o: Option): OptionModel {
  const takesValue = o.required || o.optional;
  return {
    names: [o.short, o.long].filter((n): n is string => n !== undefined),
    description: o.description,
    takesValue,
    file: takesValue && /[<[](file|path)[\]>]/.test(o.flags),
    choices: takesValue ? listedValues(o) : [],
  };
}

/** The completion model of `cmd` and everything under it, as its help shows them. */
export function completionModel(cmd: Command, path = '', siblings: readonly string[] = []): CommandModel {
  const help = cmd.createHelp();
  const subs = help.visibleCommands(cmd);
  const names = subs.map((c) => c.name());
  const commands = subs.map((c) => completionModel(c, path ? `${path} ${c.name()}` : c.name(), names));
  // Commander's own `help [command]` (made on the fly, without a parent) takes a sibling's name.
  const args = cmd.name() === 'help' && cmd.registeredArguments.length ? siblings : cmd.registeredArguments.flatMap((a) => a.argChoices ?? []);
  return { path, name: cmd.name(), description: cmd.description(), options: help.visibleOptions(cmd).map(optionModel), commands, args };
}

function walk(m: CommandModel): CommandModel[] {
  return [m, ...m.commands.flatMap(walk)];
}

/** A shell word in single quotes (bash, zsh and fish all read `'it'\''s'` as it's). */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A description on one line, for menus. */
function brief(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * A `case` over command paths that prints one word list per path, for bash and zsh alike: the
 * scripts look up the command typed so far with it.
 */
function caseFunction(fn: string, models: readonly CommandModel[], words: (m: CommandModel) => readonly string[], sep = ' '): string {
  const arms = models
    .map((m) => [m.path, words(m)] as const)
    .filter(([, w]) => w.length > 0)
    .map(([path, w]) => `    ${q(path)}) printf '%s\\n' ${q(w.join(sep))} ;;`);
  return [`${fn}() {`, '  case "$1" in', ...arms, '  esac', '}'].join('\n');
}

/** The lookup functions both bash and zsh scripts use (POSIX syntax both shells read). */
function lookups(prefix: string, models: readonly CommandModel[]): string {
  const opts = (m: CommandModel) => m.options.flatMap((o) => o.names);
  const valued = (m: CommandModel) => m.options.filter((o) => o.takesValue).flatMap((o) => o.names);
  const files = (m: CommandModel) => m.options.filter((o) => o.file).flatMap((o) => o.names);
  const choiceArms = models.flatMap((m) =>
    m.options.filter((o) => o.choices.length).flatMap((o) => o.names.map((n) => `    ${q(`${m.path} ${n}`)}) printf '%s\\n' ${q(o.choices.join(' '))} ;;`)),
  );
  return [
    `# Generated from the commander program by \`tributary completion\`: do not edit; regenerate.`,
    caseFunction(`${prefix}_commands`, models, (m) => m.commands.map((c) => c.name)),
    caseFunction(`${prefix}_options`, models, opts),
    caseFunction(`${prefix}_valued`, models, valued),
    caseFunction(`${prefix}_files`, models, files),
    caseFunction(`${prefix}_args`, models, (m) => m.args),
    [`${prefix}_choices() {`, '  case "$1 $2" in', ...choiceArms, '  esac', '}'].join('\n'),
  ].join('\n\n');
}

/**
 * bash: `_tributary` reads COMP_WORDS/COMP_CWORD, finds the command typed so far (skipping the
 * values of options that take one), and fills COMPREPLY.
 */
export function bashScript(program: Command): string {
  const models = walk(completionModel(program));
  const name = program.name();
  return `# bash completion for ${name}: eval "$(${name} completion bash)" in ~/.bashrc, or
# ${name} completion bash > /etc/bash_completion.d/${name}
${lookups('_tributary', models)}

_tributary() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmdpath='' word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      # An option that takes a value: the next word is that value, not a command.
      [[ $word != *=* && " $(_tributary_valued "$cmdpath") " == *" $word "* ]] && ((i++))
    elif [[ " $(_tributary_commands "$cmdpath") " == *" $word "* ]]; then
      cmdpath=\${cmdpath:+$cmdpath }$word
    fi
  done
  COMPREPLY=()
  if [[ $prev == -* && " $(_tributary_valued "$cmdpath") " == *" $prev "* ]]; then
    local choices
    choices=$(_tributary_choices "$cmdpath" "$prev")
    if [[ -n $choices ]]; then
      COMPREPLY=($(compgen -W "$choices" -- "$cur"))
    elif [[ " $(_tributary_files "$cmdpath") " == *" $prev "* ]]; then
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_tributary_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_tributary_commands "$cmdpath") $(_tributary_args "$cmdpath")" -- "$cur"))
  fi
  return 0
}
complete -F _tributary ${name}
`;
}

/**
 * zsh: the same lookups; `_tributary_candidates` finds what may come at $CURRENT of $words and
 * puts it in $reply (kind first: commands, options, choices, files or nothing), and the completion
 * function hands that to compadd, with descriptions for commands and options.
 */
export function zshScript(program: Command): string {
  const models = walk(completionModel(program));
  const name = program.name();
  const describe = (fn: string, pick: (m: CommandModel) => string[]) =>
    caseFunction(fn, models, pick, '\n');
  return `#compdef ${name}
# zsh completion for ${name}: save as _${name} in a directory of $fpath (before compinit runs), or
# source <(${name} completion zsh) in ~/.zshrc after compinit.
${lookups('_tributary', models)}

${describe('_tributary_describe_commands', (m) => m.commands.map((c) => `${c.name}:${brief(c.description)}`))}

${describe('_tributary_describe_options', (m) => m.options.flatMap((o) => o.names.map((n) => `${n}:${brief(o.description)}`)))}

_tributary_candidates() {
  local cmdpath='' word i cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if [[ $word == -* ]]; then
      [[ $word != *=* && " $(_tributary_valued "$cmdpath") " == *" $word "* ]] && ((i++))
    elif [[ " $(_tributary_commands "$cmdpath") " == *" $word "* ]]; then
      cmdpath=\${cmdpath:+$cmdpath }$word
    fi
  done
  reply=()
  if [[ $prev == -* && " $(_tributary_valued "$cmdpath") " == *" $prev "* ]]; then
    local choices=$(_tributary_choices "$cmdpath" "$prev")
    if [[ -n $choices ]]; then reply=(choices \${=choices})
    elif [[ " $(_tributary_files "$cmdpath") " == *" $prev "* ]]; then reply=(files)
    else reply=(value)
    fi
  elif [[ $cur == -* ]]; then
    reply=(options "\${(@f)$(_tributary_describe_options "$cmdpath")}")
  else
    reply=(commands "\${(@f)$(_tributary_describe_commands "$cmdpath")}" \${=$(_tributary_args "$cmdpath")})
  fi
}

_tributary() {
  local -a reply items
  _tributary_candidates
  items=("\${(@)reply[2,-1]}")
  items=(\${items:#})
  case $reply[1] in
    choices) compadd -- "\${(@)items}" ;;
    files) _files ;;
    options) _describe -t options option items ;;
    commands) (( \${#items} )) && _describe -t commands command items ;;
  esac
}

if [[ $funcstack[1] == _${name} ]]; then
  _tributary "$@"
else
  compdef _tributary ${name}
fi
`;
}

/** fish: one `complete` line per command, option and listed value, conditioned on the command path. */
export function fishScript(program: Command): string {
  const models = walk(completionModel(program));
  const name = program.name();
  const seen = (path: string) => (path ? path.split(' ').map((w) => `__fish_seen_subcommand_from ${w}`).join('; and ') : '');
  const lines: string[] = [
    `# fish completion for ${name}: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    `# Generated from the commander program by \`${name} completion\`: do not edit; regenerate.`,
    `complete -c ${name} -f`,
  ];
  for (const m of models) {
    const here = seen(m.path);
    const subs = m.commands.map((c) => c.name);
    // Commands of this level, until one of them is typed.
    const pick = [here, subs.length ? `not __fish_seen_subcommand_from ${subs.join(' ')}` : ''].filter(Boolean).join('; and ');
    for (const c of m.commands) lines.push(`complete -c ${name} -n ${q(pick)} -a ${q(c.name)} -d ${q(brief(c.description))}`);
    if (m.args.length) lines.push(`complete -c ${name} -n ${q(pick || 'true')} -a ${q(m.args.join(' '))}`);
    // Options of this level, while no deeper command is typed.
    const cond = [here, subs.length ? `not __fish_seen_subcommand_from ${subs.join(' ')}` : ''].filter(Boolean).join('; and ') || 'true';
    for (const o of m.options) {
      const names = o.names.map((n) => (n.startsWith('--') ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`)).join(' ');
      const value = o.choices.length ? ` -x -a ${q(o.choices.join(' '))}` : o.file ? ' -r -F' : o.takesValue ? ' -x' : '';
      lines.push(`complete -c ${name} -n ${q(cond)} ${names}${value} -d ${q(brief(o.description))}`);
    }
  }
  return lines.join('\n') + '\n';
}

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** Registers `completion <shell>`; the script covers every command of `program`, registered before or after. */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish (see docs/install.md)')
    .addArgument(new Argument('<shell>', 'bash | zsh | fish').choices(Object.keys(SCRIPTS)))
    .action((shell: keyof typeof SCRIPTS) => {
      process.stdout.write(SCRIPTS[shell](program));
    });
}
