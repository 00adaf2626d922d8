/**
 * An SVG (the QR code the server draws for HTML, without namespace or viewBox) as a data: URL for an
 * <img>: scalable, and inert — an image cannot run script, so the markup needs no sanitising.
 */
export function svgDataUrl(svg: string): string {
  let markup = svg.trim();
  const open = (): string => /^<svg\b[^>]*>/.exec(markup)?.[0] ?? '';
  if (!/\sxmlns=/.test(open())) markup = markup.replace(/^<svg\b/, '<svg xmlns="http://www.w3.org/2000/svg"');
  const width = /\swidth="([\d.]+)"/.exec(open())?.[1];
  const height = /\sheight="([\d.]+)"/.exec(open())?.[1];
  if (width && height && !/\sviewBox=/.test(open()))
    markup = markup.replace(/^<svg\b/, `<svg viewBox="0 0 ${width} ${height}"`);
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(markup)}`;
}
