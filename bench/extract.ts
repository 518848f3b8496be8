/**
 * `deno task bench extract [--json] [--reps N]`: frames written per second by `extractVideo`
 * (every 4th frame, quality 95) and its time as a ratio to ffmpeg's decode-only time
 * (`ffmpeg -i V -f null -`) for the same video, measured in the same run, with the CPU time
 * split between ffmpeg and this process; the same extraction with sharp as the JPEG back end
 * (instead of the system libjpeg-turbo through FFI); ffmpeg's own mjpeg encoder doing the
 * same selection (the alternative that was not chosen), the
 * reference's Python/OpenCV loop when `python3` with `cv2` is installed (also checking that
 * our files are byte-identical to `cv2.imwrite`'s), and a folder of 8 videos with
 * `--jobs 2` against `--jobs 1`.
 *
 * Videos: `../shared/fixtures/videos/bedroom.mp4` (960x540, 30 fps, 200 frames) and an
 * SA-V-like 848x480 24 fps H.264 clip made from it here (looped to 480 frames, ~20 s).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  extractVideo,
  extractVideos,
  ffmpegVersion,
  jpegBackend,
} from "../src/data/extract/mod.ts";

const args = [...Deno.args];
const json = args.includes("--json");
const repsAt = args.indexOf("--reps");
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 5;
const fixtures = fileURLToPath(new URL("../../shared/fixtures/videos/", import.meta.url));
const log = (s: string) => {
  if (!json) console.log(s);
};

async function run(cmd: string, argv: string[]): Promise<Deno.CommandOutput> {
  const out = await new Deno.Command(cmd, { args: argv, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${argv.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return out;
}

/** Wall time of one run of `fn` (after `setup`), in seconds. */
async function time(fn: () => Promise<unknown>, setup?: () => Promise<unknown>): Promise<number> {
  await setup?.();
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/**
 * CPU time (user + system, seconds) is measured too, since wall time on a shared machine
 * moves with the load: ffmpeg runs through a wrapper that appends its CPU time to a log
 * (`/usr/bin/time`), and this process's own CPU (sharp's threads included) comes from
 * `process.cpuUsage()`. Null when /usr/bin/time is missing.
 */
class CpuMeter {
  constructor(readonly wrapper: string, readonly logFile: string) {}
  static async create(dir: string): Promise<CpuMeter | null> {
    try {
      await Deno.stat("/usr/bin/time");
    } catch {
      return null;
    }
    const wrapper = join(dir, "ffmpeg-timed.sh"), logFile = join(dir, "ffmpeg-cpu.log");
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec /usr/bin/time -a -f "%U %S" -o '${logFile}' ffmpeg "$@"\n`,
      { mode: 0o755 },
    );
    return new CpuMeter(wrapper, logFile);
  }
  /** Runs `fn`: wall s, CPU s of the ffmpeg children and of this process (all threads). */
  async measure(
    fn: () => Promise<unknown>,
    self: boolean,
  ): Promise<{ wall: number; cpu: number; ffmpeg: number; self: number }> {
    await Deno.writeTextFile(this.logFile, "");
    const c0 = process.cpuUsage();
    const t = performance.now();
    await fn();
    const wall = (performance.now() - t) / 1000;
    const c = process.cpuUsage(c0);
    const own = self ? (c.user + c.system) / 1e6 : 0;
    let ffmpeg = 0;
    for (const line of (await Deno.readTextFile(this.logFile)).split("\n")) {
      const [u, sy] = line.trim().split(/\s+/).map(Number);
      if (Number.isFinite(u) && Number.isFinite(sy)) ffmpeg += u + sy;
    }
    return { wall, cpu: ffmpeg + own, ffmpeg, self: own };
  }
}

function cpuName(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

async function hasOpenCv(): Promise<string | null> {
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(py, {
        args: ["-c", "import cv2; print(cv2.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (r.success) return py;
    } catch { /* not installed */ }
  }
  return null;
}

const PY_REF = `
import cv2, os, sys
v, out, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
cap = cv2.VideoCapture(v)
frames = []
while cap.isOpened():
    ok, f = cap.read()
    if not ok: break
    frames.append(f)
for i, f in enumerate(frames[::rate]):
    cv2.imwrite(os.path.join(out, f"{i*rate:05d}.jpg"), f)
`;

async function sameBytes(a: string, b: string): Promise<{ same: number; total: number }> {
  let same = 0, total = 0;
  for await (const e of Deno.readDir(a)) {
    if (!e.name.endsWith(".jpg")) continue;
    total++;
    const x = await Deno.readFile(join(a, e.name));
    const y = await Deno.readFile(join(b, e.name)).catch(() => null);
    if (y && x.length === y.length && x.every((v, i) => v === y[i])) same++;
  }
  return { same, total };
}

const tmp = await Deno.makeTempDir({ prefix: "sam2-bench-extract-" });
const cores = navigator.hardwareConcurrency;
const results: Record<string, unknown> = {
  benchmark: "extract",
  device: `${cpuName()} x${cores} logical cores (CPU only)`,
  ffmpeg: await ffmpegVersion(),
  reps,
  videos: {},
};
try {
  const bedroom = join(fixtures, "bedroom.mp4");
  const savLike = join(tmp, "sav_like.mp4");
  await run("ffmpeg", [
    "-nostdin",
    "-v",
    "error",
    "-stream_loop",
    "2",
    "-i",
    bedroom,
    "-vf",
    "scale=848:480,fps=24",
    "-frames:v",
    "480",
    "-c:v",
    "libx264",
    "-preset",
    "medium",
    "-crf",
    "20",
    "-pix_fmt",
    "yuv420p",
    "-an",
    savLike,
  ]);
  const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  results.loadAtStart = load();
  const backend = await jpegBackend();
  results.jpegBackend = backend;
  log(
    `device: ${results.device}\n${results.ffmpeg}\nJPEG back end: ${backend}; load average ` +
      `at start ${results.loadAtStart}\nmedian of ${reps} runs each\n`,
  );
  const py = await hasOpenCv();
  const meter = await CpuMeter.create(tmp);
  await extractVideo(bedroom, join(tmp, "warmup"), { sampleRate: 50 }); // load sharp, probe ffmpeg

  const pairs = [["bedroom 960x540 30fps", bedroom], ["sav-like 848x480 24fps", savLike]];
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  type Cpu = { wall: number; cpu: number; ffmpeg: number; self: number };
  for (const [name, video] of pairs) {
    // Interleaved: each rep times decode-only, ours, ours through sharp, ffmpeg-mjpeg (and
    // the Python loop) back to back, so load changes on a shared machine hit baseline and
    // candidates alike; the figures are medians of the per-rep ratios.
    const out = join(tmp, "ours"), mj = join(tmp, "mjpeg"), ref = join(tmp, "opencv");
    const rows: {
      decode: Cpu;
      ours: Cpu;
      sharp: Cpu;
      mjpeg: number;
      py?: number;
    }[] = [];
    let frames = 0;
    for (let r = 0; r < reps; r++) {
      // Both through the same ffmpeg (the timing wrapper when there is one).
      const ff = meter?.wrapper ?? "ffmpeg";
      const decodeOnly = () => run(ff, ["-nostdin", "-v", "error", "-i", video, "-f", "null", "-"]);
      // Each extraction writes a fresh folder: removing the last one is not timed.
      const extract = (jpeg?: "sharp") => async () => {
        frames = (await extractVideo(video, out, { sampleRate: 4, quality: 95, jpegBackend: jpeg }))
          .frames;
      };
      const timed = async (fn: () => Promise<unknown>, self: boolean): Promise<Cpu> => {
        await Deno.remove(out, { recursive: true }).catch(() => {});
        if (meter) return await meter.measure(fn, self);
        return { wall: await time(fn), cpu: NaN, ffmpeg: NaN, self: NaN };
      };
      if (meter) Deno.env.set("FFMPEG", meter.wrapper);
      const decode = await timed(decodeOnly, false);
      const sharpRun = await timed(extract("sharp"), true);
      const ours = await timed(extract(), true);
      Deno.env.delete("FFMPEG");
      const mjpeg = await time(
        () =>
          run("ffmpeg", [
            "-nostdin",
            "-v",
            "error",
            "-i",
            video,
            "-vf",
            "select='not(mod(n\\,4))'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "mjpeg",
            "-q:v",
            "2",
            "-start_number",
            "0",
            join(mj, "%05d.jpg"),
          ]),
        async () => {
          await Deno.remove(mj, { recursive: true }).catch(() => {});
          await Deno.mkdir(mj);
        },
      );
      const pyS = py && r < 3
        ? await time(
          () => run(py, ["-c", PY_REF, video, ref, "4"]),
          () => Deno.remove(ref, { recursive: true }).catch(() => {}),
        )
        : undefined;
      rows.push({ decode, ours, sharp: sharpRun, mjpeg, py: pyS });
    }
    const decode = med(rows.map((x) => x.decode.wall)), ours = med(rows.map((x) => x.ours.wall));
    const row: Record<string, unknown> = {
      framesWritten: frames,
      decodeOnlyS: decode,
      oursS: ours,
      oursFramesPerS: frames / ours,
      oursOverDecode: med(rows.map((x) => x.ours.wall / x.decode.wall)),
      oursCpuOverDecodeCpu: med(rows.map((x) => x.ours.cpu / x.decode.cpu)),
      decodeCpuS: med(rows.map((x) => x.decode.cpu)),
      oursFfmpegCpuS: med(rows.map((x) => x.ours.ffmpeg)),
      oursProcessCpuS: med(rows.map((x) => x.ours.self)),
      sharpOverDecode: med(rows.map((x) => x.sharp.wall / x.decode.wall)),
      sharpCpuOverDecodeCpu: med(rows.map((x) => x.sharp.cpu / x.decode.cpu)),
      sharpProcessCpuS: med(rows.map((x) => x.sharp.self)),
      ffmpegMjpegQ2OverDecode: med(rows.map((x) => x.mjpeg / x.decode.wall)),
    };
    const f = (k: string, d = 2) => (row[k] as number).toFixed(d);
    log(
      `${name}: ${frames} frames written; decode-only ${decode.toFixed(3)} s; ours ${
        ours.toFixed(3)
      } s = ${(frames / ours).toFixed(1)} frames/s; ours/decode-only ${f("oursOverDecode")}x ` +
        `(CPU time ${f("oursCpuOverDecodeCpu")}x)\n` +
        `  CPU s: decode-only ffmpeg ${f("decodeCpuS", 3)}; ours: ffmpeg ${
          f("oursFfmpegCpuS", 3)
        } + this process ${f("oursProcessCpuS", 3)} (read, encode, write)\n` +
        `  same with sharp as the JPEG back end: ${f("sharpOverDecode")}x (CPU time ${
          f("sharpCpuOverDecodeCpu")
        }x, this process ${f("sharpProcessCpuS", 3)} s); ffmpeg mjpeg -q:v 2 (not chosen) ${
          f("ffmpegMjpegQ2OverDecode")
        }x decode-only`,
    );
    if (py) {
      const pr = rows.filter((x) => x.py !== undefined);
      const cmp = await sameBytes(out, ref);
      row.pythonOpenCvOverDecode = med(pr.map((x) => x.py! / x.decode.wall));
      row.oursOverPythonOpenCv = med(pr.map((x) => x.ours.wall / x.py!));
      row.byteIdenticalToOpenCv = `${cmp.same}/${cmp.total}`;
      log(
        `  python/OpenCV reference loop ${
          (row.pythonOpenCvOverDecode as number).toFixed(2)
        }x decode-only (ours takes ${
          (row.oursOverPythonOpenCv as number).toFixed(2)
        }x its time); files byte-identical to cv2.imwrite: ${cmp.same}/${cmp.total}`,
      );
    }
    (results.videos as Record<string, unknown>)[name] = row;
  }

  // Folder of 8 SA-V-like videos (120 frames each): --jobs 2 against --jobs 1.
  const folder = join(tmp, "folder", "sav_000");
  await Deno.mkdir(folder, { recursive: true });
  const short = join(tmp, "short.mp4");
  await run("ffmpeg", [
    "-nostdin",
    "-v",
    "error",
    "-i",
    savLike,
    "-frames:v",
    "120",
    "-c",
    "copy",
    short,
  ]);
  const videos: string[] = [];
  for (let i = 0; i < 8; i++) {
    const v = join(folder, `sav_00000${i}.mp4`);
    await Deno.copyFile(short, v);
    videos.push(v);
  }
  const scaling: Record<string, number> = {};
  const folderReps = Math.max(1, Math.min(reps, 3));
  const per: Record<number, { fps: number; cpu: number }[]> = { 1: [], 2: [] };
  for (let r = 0; r < folderReps; r++) {
    for (const jobs of [1, 2]) {
      let written = 0;
      const root = join(tmp, `folder_out_${jobs}`);
      await Deno.remove(root, { recursive: true }).catch(() => {});
      const go = async () => {
        written = (await extractVideos(videos, root, { jobs, skipComplete: false })).frames;
      };
      if (meter) Deno.env.set("FFMPEG", meter.wrapper);
      const m = meter ? await meter.measure(go, true) : { wall: await time(go), cpu: NaN };
      Deno.env.delete("FFMPEG");
      per[jobs].push({ fps: written / m.wall, cpu: m.cpu });
    }
  }
  scaling.jobs1FramesPerS = med(per[1].map((x) => x.fps));
  scaling.jobs2FramesPerS = med(per[2].map((x) => x.fps));
  scaling.jobs2OverJobs1Throughput = med(per[2].map((x, i) => x.fps / per[1][i].fps));
  scaling.jobs1CpuS = med(per[1].map((x) => x.cpu));
  scaling.jobs2CpuS = med(per[2].map((x) => x.cpu));
  results.folder8 = scaling;
  results.loadAtEnd = load();
  log(
    `folder of 8 videos (848x480, 120 frames each): --jobs 1 ${
      scaling.jobs1FramesPerS.toFixed(1)
    } frames/s, --jobs 2 ${scaling.jobs2FramesPerS.toFixed(1)} frames/s = ${
      scaling.jobs2OverJobs1Throughput.toFixed(2)
    }x throughput (${cores} logical cores); CPU s --jobs 1 ${
      scaling.jobs1CpuS.toFixed(2)
    }, --jobs 2 ${scaling.jobs2CpuS.toFixed(2)}\nload average at end ${results.loadAtEnd}`,
  );
  if (json) console.log(JSON.stringify(results));
} finally {
  await Deno.remove(tmp, { recursive: true });
}
