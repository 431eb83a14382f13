/** CLI entry: parses argv and dispatches to one command handler. */
export async function main (argv: string[]): Promise<void> {
  console.log('tally', argv.slice(2).join(' '))
}
