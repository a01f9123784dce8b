// The stub runtime needs an abort handler. The core never allocates and runs with
// assertions off in release builds; any abort is a bug, so trap at once.
export function onAbort(_message: string | null, _file: string | null, _line: u32, _column: u32): void {
  unreachable();
}
