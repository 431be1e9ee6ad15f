// cunik image <verb>: the image management group (docker image ...).
import type { Command } from 'commander';
import { action, clientFor, inspectEach } from '../util.js';
import { imagesReport, pruneCommand, reclaimed, warnImages } from '../prune.js';
import { imagesAction, imagesFlags } from './images.js';
import { importAction, importFlags } from './import.js';
import { loadAction, loadFlags } from './load.js';
import { rmiAction, rmiFlags } from './rmi.js';
import { saveAction, saveFlags } from './save.js';
import { tagAction } from './tag.js';
import { historyCommand } from './history.js';
import * as build from './build.js';
import * as pull from './pull.js';
import * as push from './push.js';

export function register(program: Command): void {
  const image = program.command('image').description('Manage images');
  // Docker's image group also holds its build, pull, push and history verbs.
  build.register(image);
  pull.register(image);
  push.register(image);
  historyCommand(image);
  imagesFlags(image.command('ls').alias('list').description('List images')).action(imagesAction);
  rmiFlags(image.command('rm').description('Remove one or more images')).action(rmiAction);
  image.command('tag').description('Create a tag TARGET that refers to SOURCE').argument('<source>').argument('<target>').action(tagAction);
  importFlags(image.command('import').description('Import a unikernel kernel file as an image')).action(importAction);
  saveFlags(image.command('save').description('Save images to an OCI archive (tar)')).action(saveAction);
  loadFlags(image.command('load').description('Load images from an OCI archive (tar)')).action(loadAction);
  pruneCommand(image, 'Remove dangling images: untagged, and not used by any instance', warnImages, async (client, flags) => {
    const r = await client.pruneImages(flags.all === true);
    return imagesReport(r) + reclaimed(r.spaceReclaimed);
  }, 'remove all images no instance uses, not just dangling ones');
  image
    .command('inspect')
    .description('Display detailed information on images')
    .option('-f, --format <template>', "a Go template run on each image: '{{.Id}} {{json .Config.Labels}}'")
    .argument('<images...>')
    .action(
      action(async (refs: string[], flags: { format?: string }, cmd: Command) => {
        const view = flags.format !== undefined ? (await import('../../compat/docker/view.js')).imageInspect : undefined;
        const client = await clientFor(cmd);
        await inspectEach(refs, (r) => client.inspectImage(r), view && { template: flags.format!, view });
        client.close();
      }),
    );
}
