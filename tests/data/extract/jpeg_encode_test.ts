import { assert, assertEquals } from "../../assert.ts";
import { encodeJpeg, extractVideo, jpegBackend } from "../../../src/data/extract/mod.ts";
import { openLibjpeg } from "../../../src/data/extract/_libjpeg.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./_clips.ts";

const hasLibjpeg = openLibjpeg() !== null;
const fixtures = fileURLToPath(new URL("../../../../shared/fixtures/videos/", import.meta.url));

/** Debian's python3 with OpenCV, when installed: the reference's decoder and JPEG writer. */
const opencvPython = await (async () => {
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(py, {
        args: ["-c", "import cv2"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (r.success) return py;
    } catch { /* not installed */ }
  }
  return null;
})();

function noiseFrame(width: number, height: number, seed: number) {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    // Smooth ramps plus noise: both flat and busy blocks.
    data[i] = ((i % (width * 3)) + (s >>> 27) * 3) & 255;
  }
  return { width, height, data };
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

Deno.test({
  name: "encodeJpeg() writes the same bytes through libjpeg (FFI) and sharp",
  ignore: !hasLibjpeg,
  fn: async () => {
    for (const [w, h] of [[1, 1], [17, 9], [37, 29], [64, 48], [130, 66]]) {
      for (const q of [1, 50, 95, 100]) {
        const f = noiseFrame(w, h, w * 1000 + q);
        const a = await encodeJpeg(f, q, { backend: "libjpeg" });
        const b = await encodeJpeg(f, q, { backend: "sharp" });
        assert(same(a, b), `${w}x${h} q${q}: libjpeg ${a.length} B, sharp ${b.length} B`);
      }
    }
    // A frame inside a larger buffer (as the FIFO reader hands them out, after the header).
    const f = noiseFrame(37, 29, 5);
    const shifted = new Uint8Array(f.data.length + 15);
    shifted.set(f.data, 15);
    const inner = { ...f, data: shifted.subarray(15) };
    const plain = await encodeJpeg(f, 95, { backend: "sharp" });
    assert(same(await encodeJpeg(inner, 95, { backend: "libjpeg" }), plain), "libjpeg, offset");
    assert(same(await encodeJpeg(inner, 95, { backend: "sharp" }), plain), "sharp, offset");
  },
});

Deno.test("jpegBackend() picks libjpeg when the system libjpeg-turbo loads, else sharp", async () => {
  assertEquals(await jpegBackend(), hasLibjpeg ? "libjpeg" : "sharp");
});

const PY_REF = `
import cv2, os, sys
v, out, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
cap = cv2.VideoCapture(v)
i = 0
while True:
    ok, f = cap.read()
    if not ok: break
    if i % rate == 0: cv2.imwrite(os.path.join(out, f"{i:05d}.jpg"), f)
    i += 1
`;

Deno.test({
  name: "extractVideo() writes byte for byte what cv2.VideoCapture + cv2.imwrite write",
  ignore: opencvPython === null,
  fn: async () => {
    const tmp = await tempDir();
    try {
      const video = join(fixtures, "bedroom.mp4");
      const ref = join(tmp, "opencv");
      const py = await new Deno.Command(opencvPython!, {
        args: ["-c", PY_REF, video, ref, "50"],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert(py.success, new TextDecoder().decode(py.stderr));
      const expected = ["00000.jpg", "00050.jpg", "00100.jpg", "00150.jpg"];
      const variants = [
        { jpegBackend: "sharp" as const, frameTransport: "stdout" as const },
        ...(hasLibjpeg
          ? [{ jpegBackend: "libjpeg" as const, frameTransport: "fifo" as const }]
          : []),
      ];
      for (const v of variants) {
        const out = join(tmp, `${v.jpegBackend}-${v.frameTransport}`);
        const r = await extractVideo(video, out, { sampleRate: 50, ...v });
        assertEquals(r.written.map((p) => p.slice(out.length + 1)), expected);
        for (const n of expected) {
          const ours = await Deno.readFile(join(out, n));
          const theirs = await Deno.readFile(join(ref, n));
          assert(
            same(ours, theirs),
            `${JSON.stringify(v)} ${n}: ${ours.length} B vs ${theirs.length} B`,
          );
        }
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
