// Which libtorch variant an install takes: CUDA where an NVIDIA driver is present, else CPU. ALIGNKIT_DEVICE=cpu|cuda
// decides instead. Returns the variant and the reason, which install.mjs records for `alignkit info`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// The kernel module's version file exists wherever the NVIDIA driver is loaded; nvidia-smi ships with it (and is
// what a container without /proc/driver/nvidia still has); ldconfig knows the driver library otherwise.
function nvidiaDriver(env) {
  if (existsSync('/proc/driver/nvidia/version')) return '/proc/driver/nvidia/version exists';
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000, env });
  if (smi.status === 0 && /GPU \d+:/.test(smi.stdout)) return 'nvidia-smi lists a GPU';
  const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 10_000, env });
  if (ldconfig.status === 0 && /\blibcuda\.so\.1\b/.test(ldconfig.stdout))
    return 'the driver library libcuda.so.1 is installed';
  return null;
}

export function pickDevice(env = process.env) {
  const forced = env.ALIGNKIT_DEVICE?.trim().toLowerCase();
  if (forced === 'cpu' || forced === 'cuda') return { variant: forced, reason: `ALIGNKIT_DEVICE=${forced}` };
  if (forced)
    throw new Error('alignkit: ALIGNKIT_DEVICE must be cpu or cuda (or unset: CUDA when an NVIDIA driver is found)');
  if (process.platform !== 'linux') return { variant: 'cpu', reason: `no CUDA build for ${process.platform}` };
  const driver = nvidiaDriver(env);
  return driver
    ? { variant: 'cuda', reason: `NVIDIA driver found (${driver})` }
    : { variant: 'cpu', reason: 'no NVIDIA driver found (/proc/driver/nvidia, nvidia-smi, libcuda.so.1)' };
}
