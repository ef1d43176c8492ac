// Ctrl-C for long-running commands: the first asks for a graceful stop (finish the step, save a checkpoint), a later
// one quits at once.
/** Listens for SIGINT: `first` on the first one, `again` on any later one; returns the function that stops listening. */
export function onCtrlC(first: () => void, again: () => void): () => void {
  // `npx alignkit` runs us under npm, which forwards the terminal's SIGINT: when its shell execs us (bash does),
  // one Ctrl-C arrives twice within milliseconds. A SIGINT counts as the second Ctrl-C from 300 ms on.
  let firstAt: number | undefined;
  const onSigint = () => {
    if (firstAt === undefined) {
      firstAt = performance.now();
      first();
    } else if (performance.now() - firstAt > 300) {
      again();
    }
  };
  process.on('SIGINT', onSigint);
  return () => process.off('SIGINT', onSigint);
}
