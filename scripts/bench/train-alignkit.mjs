#!/usr/bin/env node
// alignkit side of one `npm run bench:dpo -- --shape NAME` run, in its own process so that each run's peak RSS is
// its own (maxRSS never goes down in a process). Argument: one JSON object { config, threads, cuda }; trains with
// train(config) and prints one JSON line on stdout: per-step end times (seconds since train() began), losses, the
// running peak RSS after each step, the process's peak RSS, the CUDA allocator's peak (with cuda), runtime info.
// dist/ is built once by real-shape.mjs before the first run (not per run: every row runs the same alignkit).
const { config, threads, cuda } = JSON.parse(process.argv[2]);
const { train, setNumThreads, info, cudaMemory } = await import('../../dist/index.js');
if (cuda && !info().cudaAvailable) throw new Error('--device cuda: this alignkit build sees no CUDA device');
setNumThreads(threads);

const stepEnds = [];
const losses = [];
const peakRssByStepMiB = [];
if (cuda) cudaMemory(0, { reset: true });
const t0 = process.hrtime.bigint();
const result = await train(config, {
  onLog: (entry) => {
    if (!('loss' in entry)) return;
    stepEnds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    losses.push(entry.loss);
    peakRssByStepMiB.push(process.resourceUsage().maxRSS / 1024);
  },
  log: (message) => console.error(`alignkit: ${message}`),
});
const rt = info();
console.log(
  JSON.stringify({
    globalStep: result.globalStep,
    stepEnds,
    losses,
    peakRssByStepMiB,
    wholeSeconds: Number(process.hrtime.bigint() - t0) / 1e9,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    cudaPeakMiB: cuda ? cudaMemory(0).peakAllocated / 2 ** 20 : null,
    threads: rt.threads,
    device: rt.device,
    torchVersion: rt.torchVersion,
  }),
);
