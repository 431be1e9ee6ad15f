// Image names between Docker's client and Cunik.
/**
 * A name as Cunik has it: the docker CLI sends some names normalised to Docker Hub's
 * (docker.io/library/hello for hello), and Cunik's names without a registry are local ones.
 */
export function familiar(ref: string): string {
  return ref.replace(/^(?:docker\.io|index\.docker\.io)\/(?:library\/)?/, '');
}
