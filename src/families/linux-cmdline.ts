// Writing one word on a Linux kernel command line so that init receives it unchanged. The kernel
// splits the line with next_arg (kernel/params.c, Linux 6.1): a word starting with '"' runs to the
// next blank outside quotes (each '"' toggles "inside"); "param=value" is cut at the first '=' past
// position 0, and quotes around the value, or around the whole word, are dropped; then init/main.c
// repair_env_string glues "param=value" back together. There is no escape character, so a word is
// passed only if some spelling of it reads back exactly; otherwise it is refused.

/** What init receives for one command-line word (no leading blank), or undefined if it does not end there. */
export function kernelReads(token: string): string | undefined {
  const quoted = token.startsWith('"');
  const a = quoted ? token.slice(1) : token;
  let inQuote = quoted;
  let equals = 0;
  for (let i = 0; i < a.length; i++) {
    if (/\s/.test(a[i]!) && !inQuote) return undefined; // the word would end here
    if (equals === 0 && a[i] === '=') equals = i;
    if (a[i] === '"') inQuote = !inQuote;
  }
  if (inQuote) return undefined; // it would run on into the next word
  const buf: (string | null)[] = [...a];
  const end = buf.length;
  let valStart = -1;
  if (equals > 0) {
    buf[equals] = null;
    valStart = equals + 1;
    if (buf[valStart] === '"') {
      valStart++;
      if (buf[end - 1] === '"') buf[end - 1] = null;
    }
  }
  if (quoted && end > 0 && buf[end - 1] === '"') buf[end - 1] = null;
  const upTo = (from: number): string => {
    let s = '';
    for (let i = from; i < end && buf[i] !== null; i++) s += buf[i];
    return s;
  };
  return valStart < 0 ? upTo(0) : `${upTo(0)}=${valStart <= end ? upTo(valStart) : ''}`;
}

/** The first spelling of `word` the kernel reads back as `word`: plain, KEY="VALUE", or "WORD". */
export function kernelWord(word: string): string | undefined {
  const eq = word.indexOf('=');
  const candidates = [word, ...(eq > 0 ? [`${word.slice(0, eq + 1)}"${word.slice(eq + 1)}"`] : []), `"${word}"`];
  return candidates.find((c) => c !== '' && kernelReads(c) === word);
}
