/**
 * Config names as the reference takes them: `build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml")`
 * names a file inside the package. Here a name is tried as a path first, then inside this
 * project's `configs/` folder, with `.yaml` added when it has no extension.
 */

const PROJECT_ROOT = new URL("../../../", import.meta.url);

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Finds a config file by path or by the reference's config name (`configs/sam2.1/x.yaml`,
 * `sam2.1/x.yaml`, `sam2.1/x`).
 * @throws {Deno.errors.NotFound} listing every place tried.
 */
export function findConfigFile(name: string): string {
  const names = /\.ya?ml$/.test(name) ? [name] : [name, `${name}.yaml`];
  const tried: string[] = [];
  for (const n of names) {
    tried.push(n);
    if (exists(n)) return n;
  }
  if (PROJECT_ROOT.protocol === "file:" && !name.startsWith("/")) {
    const root = PROJECT_ROOT.pathname;
    for (const n of names) {
      for (const p of [`${root}${n}`, `${root}configs/${n.replace(/^configs\//, "")}`]) {
        if (tried.includes(p)) continue;
        tried.push(p);
        if (exists(p)) return p;
      }
    }
  }
  throw new Deno.errors.NotFound(`Config "${name}" not found; tried: ${tried.join(", ")}`);
}
