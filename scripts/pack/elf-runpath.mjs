// The DT_RUNPATH (or DT_RPATH) of a 64-bit little-endian ELF file, read from its dynamic section: what the
// tarball check asserts of the prebuild without binutils. Null when the file has neither.
import { readFileSync } from 'node:fs';

const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const SHT_DYNAMIC = 6;

export function elfRunpath(path) {
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    throw new Error(`${path}: not a 64-bit little-endian ELF file`);
  const sectionsAt = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const section = (i) => {
    const at = sectionsAt + i * entrySize;
    return {
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
    };
  };
  for (let i = 0; i < count; i++) {
    const dynamic = section(i);
    if (dynamic.type !== SHT_DYNAMIC) continue;
    const strings = section(dynamic.link);
    let found = null;
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
      const tag = elf.readBigInt64LE(at);
      if (tag !== DT_RUNPATH && tag !== DT_RPATH) continue;
      const start = strings.offset + Number(elf.readBigUInt64LE(at + 8));
      found = elf.toString('utf8', start, elf.indexOf(0, start));
      if (tag === DT_RUNPATH) return found;
    }
    return found;
  }
  return null;
}
