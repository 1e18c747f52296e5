// config.js — where the pages find the API. No build step: '' means the API
// answers on the same origin as these pages (the gateway's --www, or the
// Docker frontend nginx that proxies /api, /oauth, /t, /health). When the
// console is served from another origin than the API, replace this file (the
// frontend nginx can serve its own) or put
// <meta name="bf-api-base" content="https://api.example.com"> in a page.
const meta = globalThis.document?.querySelector('meta[name="bf-api-base"]');

export const API_BASE = (meta?.content ?? '').trim().replace(/\/+$/, '');
