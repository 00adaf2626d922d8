import { describe, expect, it } from 'vitest';
import { svgDataUrl } from './svg';

const decode = (url: string) => decodeURIComponent(url.replace('data:image/svg+xml;charset=utf-8,', ''));

describe('svgDataUrl', () => {
  it('adds the namespace and a viewBox so the QR code scales as an image', () => {
    const svg = decode(svgDataUrl('<svg width="132" height="132" class="segno"><path d="M2 2.5h7"/></svg>'));
    expect(svg).toMatch(/^<svg viewBox="0 0 132 132" xmlns="http:\/\/www.w3.org\/2000\/svg" width="132"/);
  });

  it('leaves a complete SVG as it is', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" height="10"></svg>';
    expect(decode(svgDataUrl(svg))).toBe(svg);
  });
});
