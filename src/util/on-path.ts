// Finding a program as execvp would: a name with a slash is taken as it is, else the first
// directory of PATH (then `extraDirs`) that holds it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The program's path, or undefined when there is none that can be run. */
export function onPath(program: string, extraDirs: string[] = [], path = process.env['PATH'] ?? ''): string | undefined {
  const runnable = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return runnable(program) ? program : undefined;
  const dirs = [...path.split(delimiter).filter(Boolean), ...extraDirs];
  return dirs.map((d) => join(d, program)).find(runnable);
}
