/** A file that is not a readable image: the message names the file and the problem. */
export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
  /** The file (or label) that failed. */
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`Cannot decode image "${file}": ${problem}`);
    this.file = file;
  }
}
