// A small 16-bit PCM WAV (a 440 Hz tone), built in code so no audio file is needed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Returns a mono 16 kHz 16-bit WAV of `seconds` of a 440 Hz tone. */
export function toneWAV(seconds = 1, rate = 16000) {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write("RIFF", 0, "ascii");
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write("WAVEfmt ", 8, "ascii");
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(2 * rate, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36, "ascii");
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + 2 * i);
  return buf;
}

/** Writes toneWAV to a temporary file and returns its path. */
export function toneWAVFile(seconds = 1) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "edgeinfer-wav-")), "tone.wav");
  fs.writeFileSync(file, toneWAV(seconds));
  return file;
}
