// Boot: a token from the link's fragment (#token=..., never sent to the server, removed from
// the address at once) or from this tab's sessionStorage, else the sign-in form.
import { signIn, signOut, storedToken } from './app.js'
import { byId } from './dom.js'

function tokenFromFragment (): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (match === null) return undefined
  history.replaceState(null, '', location.pathname + location.search)
  return decodeURIComponent(match[1])
}

byId('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const token = byId<HTMLTextAreaElement>('token-input').value.trim()
  if (token !== '') signIn(token).catch(() => {})
})
byId('sign-out').addEventListener('click', () => { signOut().catch(() => {}) })

const token = tokenFromFragment() ?? storedToken()
if (token !== undefined) signIn(token).catch(() => {})
