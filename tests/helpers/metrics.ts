/**
 * `name{labels}` → value for every sample of a Prometheus text exposition (comments skipped), so
 * tests can look a series up by its full name and labels as printed.
 */
export function metricSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}
