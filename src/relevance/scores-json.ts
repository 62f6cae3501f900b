// `metadata.scores` on the wire: `{key: score}` in score order, best first. Assembled as a string
// because keys are user input: a JavaScript object would move integer-like keys ("7") to the front
// and treat "__proto__" specially, and the order is the point of the field.

/** `{"key":score,...}` in the order given. */
export function scoresJson (scores: ReadonlyArray<readonly [string, number]>): string {
  const items: string[] = new Array(scores.length)
  for (let i = 0; i < scores.length; i++) items[i] = `${JSON.stringify(scores[i][0])}:${scores[i][1]}`
  return `{${items.join(',')}}`
}

/** A metadata object's JSON with `"scores"` appended when there are scores (relevant_to given). */
export function metadataJson (metadata: object, scores: ReadonlyArray<readonly [string, number]> | undefined): string {
  const json = JSON.stringify(metadata)
  return scores === undefined ? json : `${json.slice(0, -1)},"scores":${scoresJson(scores)}}`
}
