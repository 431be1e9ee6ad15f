// The VmmDriver conformance suite against the QEMU driver as the daemon runs it: each VM under
// cunik-shim, each shim started by cunik-spawner (src/daemon/main.ts).
import { join } from 'node:path';
import { QemuDriver } from '../../src/vmm/qemu/driver.js';
import { describeDriverConformance } from '../helpers/driver-conformance.js';
import { repo } from '../helpers/daemon.js';

const bin = join(repo, 'build', 'bin');
describeDriverConformance('qemu under cunik-shim and cunik-spawner', () => new QemuDriver({ shim: join(bin, 'cunik-shim'), spawner: join(bin, 'cunik-spawner') }));
