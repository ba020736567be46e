// The one place the engine reads environment variables (process.env in Node; nothing in a browser).

/** The value of an environment variable, or undefined (always, in a browser); empty counts as unset. */
export function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name] || undefined;
}
