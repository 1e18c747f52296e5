// links.js — links marked data-api-link="/path" point at the API wherever
// config.js says it is (same origin by default).
import { apiUrl } from './api.js';
import { $$ } from './dom.js';

export function pointApiLinks(root = document) {
  for (const a of $$('a[data-api-link]', root)) a.href = apiUrl(a.dataset.apiLink);
}
