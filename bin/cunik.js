#!/usr/bin/env node
import { runCli } from '../dist/cunik.mjs';

runCli(process.argv);
