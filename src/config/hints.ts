/**
 * Options as the user types them, for the fixes that messages suggest: the flag, and the key of
 * the YAML config file (kebab-case, as the flag), never the internal camelCase names.
 */

/** `--column-types items.price=DECIMAL(65,30) (in the config file: column-types: {items.price: "DECIMAL(65,30)"})`. */
export function columnTypesHint(table: string, column: string, type: string): string {
  return `--column-types ${table}.${column}=${type} (in the config file: column-types: {${table}.${column}: "${type}"})`;
}
