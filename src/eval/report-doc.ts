/**
 * The report as a list of blocks, rendered twice from the same list: report.md (figures linked) and
 * report.html (one self-contained page: figures inline, no network). Rendering both from one list is what
 * makes the page hold every table and figure of the Markdown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3 | 4; text: string }
  /** A paragraph in inline Markdown: **bold**, _emphasis_, `code`, [links](url). */
  | { kind: 'text'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; header: string[]; rows: string[][] }
  /** A figure file under the report directory (SVG or PNG), with its caption. */
  | { kind: 'figure'; path: string; caption: string };

const cellMarkdown = (text: string) => text.replace(/\|/g, '\\|');

export function toMarkdown(blocks: Block[]): string {
  const parts = blocks.map((b) => {
    switch (b.kind) {
      case 'heading':
        return `${'#'.repeat(b.level)} ${b.text}`;
      case 'text':
        return b.text;
      case 'list':
        return b.items.map((item) => `- ${item}`).join('\n');
      case 'table':
        return [`| ${b.header.map(cellMarkdown).join(' | ')} |`, `|${b.header.map(() => '---').join('|')}|`, ...b.rows.map((r) => `| ${r.map(cellMarkdown).join(' | ')} |`)].join('\n');
      case 'figure':
        return `![${b.caption}](${b.path})\n\n_${b.caption}_`;
    }
  });
  return `${parts.join('\n\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline Markdown as HTML: code spans first (their content stays literal), then bold, emphasis and links. */
export function inlineHtml(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => {
      if (part.startsWith('`') && part.endsWith('`') && part.length >= 2) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      return escapeHtml(part)
        .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
        .replace(/(^|[\s(])_(.+?)_(?=$|[\s).,;:])/g, '$1<em>$2</em>')
        .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>');
    })
    .join('');
}

/**
 * An SVG to place inline: its ids (the hatch patterns) made unique to the figure, since every chart names
 * its patterns alike and one page holds them all.
 */
function inlineSvg(svg: string, index: number): string {
  return svg.replace(/id="([^"]+)"/g, `id="f${index}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#f${index}-$1)`);
}

const STYLE = [
  'body { font-family: sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }',
  'table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }',
  'th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }',
  'th { background: #f3f3f3; }',
  'figure { margin: 1em 0; overflow-x: auto; }',
  'figcaption { font-style: italic; font-size: 13px; max-width: 900px; }',
  'code { background: #f3f3f3; padding: 0 2px; }',
].join('\n');

/** The whole report as one HTML page; figures are read from `dir` and placed inline (SVG as markup, PNG as a data URL). */
export function toHtml(blocks: Block[], title: string, dir: string): string {
  let figures = 0;
  const parts = blocks.map((b) => {
    switch (b.kind) {
      case 'heading':
        return `<h${b.level}>${inlineHtml(b.text)}</h${b.level}>`;
      case 'text':
        return `<p>${inlineHtml(b.text)}</p>`;
      case 'list':
        return `<ul>\n${b.items.map((item) => `<li>${inlineHtml(item)}</li>`).join('\n')}\n</ul>`;
      case 'table':
        return [
          '<table>',
          `<thead><tr>${b.header.map((h) => `<th>${inlineHtml(h)}</th>`).join('')}</tr></thead>`,
          '<tbody>',
          ...b.rows.map((r) => `<tr>${r.map((c) => `<td>${inlineHtml(c)}</td>`).join('')}</tr>`),
          '</tbody>',
          '</table>',
        ].join('\n');
      case 'figure': {
        const index = figures++;
        const content = b.path.endsWith('.svg')
          ? inlineSvg(readFileSync(join(dir, b.path), 'utf8'), index)
          : `<img alt="${escapeHtml(b.caption)}" src="data:image/png;base64,${readFileSync(join(dir, b.path)).toString('base64')}">`;
        return `<figure data-path="${escapeHtml(b.path)}">\n${content.trimEnd()}\n<figcaption>${inlineHtml(b.caption)}</figcaption>\n</figure>`;
      }
    }
  });
  return ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', `<title>${escapeHtml(title)}</title>`, `<style>\n${STYLE}\n</style>`, '</head>', '<body>', ...parts, '</body>', '</html>', ''].join('\n');
}
