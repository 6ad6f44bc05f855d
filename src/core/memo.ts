/**
 * `build` memoised per key object: built once, shared by concurrent callers; a failed build is
 * forgotten, so the next call tries again. Keys are held weakly.
 */
export function perObject<K extends object, T>(build: (key: K) => Promise<T>): (key: K) => Promise<T> {
  const built = new WeakMap<K, Promise<T>>();
  return (key) => {
    let p = built.get(key);
    if (!p) {
      p = build(key);
      built.set(key, p);
      p.catch(() => built.delete(key));
    }
    return p;
  };
}
