/** `ensdef data fetch|info`: download and verify the official data sets; describe what is loaded. */
import { Command } from 'commander';
import { fetchDataset } from '../data/download.ts';
import { provenanceNote } from '../data/provenance.ts';
import { DATA_CACHE_ROOT, DATASET_NAMES, datasetDescriptor, loadDataset } from '../datasets/registry.ts';
import { checkDirectoryFlag } from '../run/run-dir.ts';
import { log } from './global.ts';
import { enumOption } from './parse.ts';

export function dataCommand(): Command {
  const data = new Command('data').description('download (fetch) or describe (info) the data sets');
  data
    .command('fetch')
    .description(`download the official files, verify their checksums and cache them under data/`)
    .argument('<dataset>', `one of ${DATASET_NAMES.join(', ')}`, enumOption('dataset', DATASET_NAMES))
    .option('--cache-dir <dir>', 'cache root', DATA_CACHE_ROOT)
    .action(async (dataset: string, flags: { cacheDir: string }) => {
      checkDirectoryFlag('--cache-dir', flags.cacheDir, 'name a directory for the downloaded files');
      const dir = await fetchDataset(dataset, datasetDescriptor(dataset).remoteFiles, flags.cacheDir, log);
      console.log(`${dataset} ready in ${dir}`);
    });
  data
    .command('info')
    .description('load a data set and print its size and label histogram')
    .argument('<dataset>', `one of ${DATASET_NAMES.join(', ')}`, enumOption('dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'raw data directory (default: embedded MNIST / data/cifar10)')
    .action((dataset: string, flags: { dataDir?: string }) => {
      const ds = loadDataset({ dataset, dataDir: flags.dataDir });
      for (const [name, split] of [['train', ds.train], ['test', ds.test]] as const) {
        const histogram = new Array<number>(ds.numClasses).fill(0);
        for (const label of split.labels) histogram[label]++;
        console.log(`${dataset} ${name}: ${split.count} images ${ds.imageShape.join('x')}, labels ${histogram.join(',')}`);
      }
      console.log(`source: ${ds.source}`);
      console.log(`data: ${ds.provenance.label}, ${provenanceNote(ds.provenance)}`);
      for (const file of ds.provenance.files) console.log(`  ${file.name}  ${file.bytes} bytes  sha256 ${file.sha256}`);
    });
  return data;
}
