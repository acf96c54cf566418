/** The header line of every sensor CSV. */
export declare const CSV_HEADER: string;
/** One CSV field for text from the network: formula characters neutralised, quoted per RFC 4180. */
export declare function csvText(text: string): string;
/** One CSV line (no newline) for a sample's fields. */
export declare function csvLine(
  received: number,
  source: number,
  type: string,
  timestamp: number | null,
  accuracy: number | null,
  action: string | null | undefined,
  values: readonly number[],
): string;
