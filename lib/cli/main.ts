#!/usr/bin/env node
/**
 * The wirecap command: one file per command in this folder, registered here.
 */
import { Command } from 'commander';
import { WirecapError } from '../core/errors';
import { registerCapture } from './capture';
import { registerCollect } from './collect';
import { registerConsume } from './consume';
import { registerDump } from './dump';
import { registerExtcap } from './extcap';
import { registerFlows } from './flows';
import { registerFollow } from './follow';
import { registerHelper } from './helper';
import { registerInfo } from './info';
import { registerList } from './list';
import { registerPublish } from './publish';
import { registerRead } from './read';
import { registerReplay } from './replay';
import { registerServe } from './serve';
import { registerSessions } from './sessions';
import { registerSlice } from './slice';
import { registerStream } from './stream';

export function program(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Command {
  const cli = new Command('wirecap')
    .description('live packet capture, native dumps and capture files, over libpcap / Npcap')
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) })
    .exitOverride();
  const io = { out, err };
  const commands = [
    registerList,
    registerCapture,
    registerDump,
    registerRead,
    registerInfo,
    registerStream,
    registerCollect,
    registerPublish,
    registerConsume,
    registerSlice,
    registerFlows,
    registerFollow,
    registerSessions,
    registerReplay,
    registerExtcap,
    registerServe,
    registerHelper,
  ];
  for (const register of commands) {
    register(cli, io);
  }
  return cli;
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof WirecapError) {
      process.stderr.write(`wirecap: ${error.message}\n`);
      return 1;
    }
    const code = (error as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // Help and version exit 0; usage errors were already explained.
      return (error as { exitCode: number }).exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
