// Reading a run's saved weights back for the probe's "no NaN saved" verdict, with no dependency on alignkit itself.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Whether every F32 tensor of every .safetensors file under `dir` holds only finite values. */
export function finiteSafetensors(dir) {
  for (const name of readdirSync(dir, { recursive: true })) {
    if (!String(name).endsWith('.safetensors')) continue;
    const bytes = readFileSync(join(dir, name));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    for (const [tensor, info] of Object.entries(header)) {
      if (tensor === '__metadata__' || info.dtype !== 'F32') continue;
      const [begin, end] = info.data_offsets;
      const data = bytes.subarray(8 + headerLength + begin, 8 + headerLength + end);
      for (let i = 0; i < data.length; i += 4) if (!Number.isFinite(data.readFloatLE(i))) return false;
    }
  }
  return true;
}
