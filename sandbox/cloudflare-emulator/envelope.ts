import { ApiFailure } from "./record-store.js";

/** The API v4 response envelope: `{ success, errors, messages, result }`, and page slicing with `result_info`. */

export type Json = Record<string, unknown>;

const MAX_PER_PAGE = 5000;

export function envelope(result: unknown, extra: Json = {}): Json {
  return { success: true, errors: [], messages: [], result, ...extra };
}

export function failure(errors: { code: number; message: string }[]): Json {
  return { success: false, errors, messages: [], result: null };
}

/** `page` (from 1) and `per_page` (5–5000, default 100) as the API reads them. */
export function paginate<T>(items: T[], q: URLSearchParams): Json {
  const page = Math.max(1, Number(q.get("page") ?? 1) || 1);
  const perPage = Number(q.get("per_page") ?? 100) || 100;
  if (perPage < 5 || perPage > MAX_PER_PAGE)
    throw new ApiFailure(400, 1004, `per_page must be between 5 and ${MAX_PER_PAGE}`);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return envelope(slice, {
    result_info: {
      page,
      per_page: perPage,
      count: slice.length,
      total_count: items.length,
      total_pages: Math.ceil(items.length / perPage),
    },
  });
}
