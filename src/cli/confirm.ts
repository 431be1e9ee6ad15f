// Docker's confirmation prompt (docker/cli command.PromptForConfirmation): the warning and
// "Are you sure you want to continue? [y/N] " on stdout, one line read from stdin; only y or yes
// (any case) confirms. Without a terminal the answer is still read from stdin; end of input is no.

/** The first line of stdin (without its newline), or undefined at end of input. */
export function readLine(input: NodeJS.ReadStream = process.stdin): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = (line: string | undefined): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onEnd);
      input.pause();
      // A terminal or pipe left open would keep the process alive.
      if (!input.isTTY) input.destroy();
      resolve(line);
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) done(text.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = (): void => done(text.length ? text : undefined);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onEnd);
    input.resume();
  });
}

export async function confirm(warning: string): Promise<boolean> {
  process.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await readLine();
  if (!process.stdin.isTTY) process.stdout.write('\n');
  return answer !== undefined && /^y(es)?$/i.test(answer.trim());
}
