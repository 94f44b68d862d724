// The names in a zip file (a VSIX), read from its central directory: enough to check what a VSIX holds
// without unpacking it or depending on an unzip tool.
import * as fs from 'node:fs';

const endOfCentralDirectory = 0x06054b50;
const centralDirectoryEntry = 0x02014b50;

/** Every entry name of the zip at `file`, in directory order; throws naming the file if it is not a zip. */
export function zipEntries(file: string): string[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    // The end record is 22 bytes plus a comment of at most 64 KiB, at the very end of the file.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    fs.readSync(fd, tail, 0, tailLength, size - tailLength);
    let end = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === endOfCentralDirectory) {
        end = i;
        break;
      }
    }
    if (end < 0) throw new Error(`${file} is not a zip file (no end-of-central-directory record)`);
    const count = tail.readUInt16LE(end + 10);
    const dirSize = tail.readUInt32LE(end + 12);
    const dirOffset = tail.readUInt32LE(end + 16);
    const dir = Buffer.alloc(dirSize);
    fs.readSync(fd, dir, 0, dirSize, dirOffset);
    const names: string[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (dir.readUInt32LE(p) !== centralDirectoryEntry) throw new Error(`${file}: corrupt central directory at entry ${i}`);
      const nameLength = dir.readUInt16LE(p + 28);
      const extraLength = dir.readUInt16LE(p + 30);
      const commentLength = dir.readUInt16LE(p + 32);
      names.push(dir.toString('utf8', p + 46, p + 46 + nameLength));
      p += 46 + nameLength + extraLength + commentLength;
    }
    return names;
  } finally {
    fs.closeSync(fd);
  }
}
