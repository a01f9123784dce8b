// Where a command's output goes: stdout/stderr by default, arrays in tests.
export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const stdio: CommandIO = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** Left-aligned two-column table. */
export function table(rows: [string, string][]): string[] {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
}
