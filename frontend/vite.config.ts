/// <reference types="vitest/config" />
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const THEME = '#0f3d7a';

/** Flask's /api/docs page loads ReDoc from /vendor/redoc.standalone.js (no CDN): copy it from npm. */
function redocStandalone(): Plugin {
  return {
    name: 'signet:redoc-standalone',
    apply: 'build',
    generateBundle() {
      const file = createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js');
      this.emitFile({ type: 'asset', fileName: 'vendor/redoc.standalone.js', source: readFileSync(file) });
    },
  };
}

export default defineConfig({
  plugins: [
    preact(),
    redocStandalone(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script', // an external registerSW.js: CSP allows no inline script
      includeAssets: ['icons/favicon-48.png', 'icons/apple-touch-icon.png'],
      manifest: {
        name: 'Signet — Ký học bạ',
        short_name: 'Signet',
        description: 'Ký học bạ số từ điện thoại, không cần cài đặt phần mềm.',
        lang: 'vi',
        dir: 'ltr',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'portrait',
        theme_color: THEME,
        background_color: '#ffffff',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,png,svg,webmanifest}'],
        globIgnores: ['vendor/**', 'push-sw.js'],
        navigateFallback: '/index.html',
        // server-rendered pages (verification, audit) are never the app shell
        navigateFallbackDenylist: [/^\/api\//, /^\/csc\//, /^\/healthz/, /^\/readyz/, /^\/vendor\//, /^\/v\//, /^\/audit/, /^\/operator/],
        importScripts: ['/push-sw.js'], // Web Push: show the notice, open its screen on click
        cleanupOutdatedCaches: true,
        runtimeCaching: [
          {
            // the transcript's details, so a preview seen before also opens offline (same cache: cleared at sign-out)
            urlPattern: ({ url, sameOrigin }) => sameOrigin && /^\/api\/v1\/documents\/(?!changes$)[^/]+$/.test(url.pathname),
            handler: 'NetworkFirst',
            options: {
              cacheName: 'signet-document-pages',
              networkTimeoutSeconds: 8,
              cacheableResponse: { statuses: [200] },
              plugins: [
                {
                  // an answer from the cache says so: the app then still shows that it is offline
                  cachedResponseWillBeUsed: async ({ cachedResponse }) => {
                    if (!cachedResponse) return cachedResponse;
                    const headers = new Headers(cachedResponse.headers);
                    headers.set('X-Signet-From-Cache', '1');
                    const body = await cachedResponse.blob();
                    return new Response(body, { status: cachedResponse.status, headers });
                  },
                },
              ],
            },
          },
          {
            // page images of documents already viewed open offline
            urlPattern: ({ url, sameOrigin }) =>
              sameOrigin && /^\/api\/v1\/documents\/[^/]+\/pages\/[^/]+$/.test(url.pathname),
            handler: 'CacheFirst',
            options: {
              cacheName: 'signet-document-pages',
              expiration: { maxEntries: 400, maxAgeSeconds: 30 * 24 * 3600 },
              cacheableResponse: { statuses: [200] },
            },
          },
        ],
      },
    }),
  ],
  build: { target: 'es2022', sourcemap: true },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
