// Registers a client with panva's openid-client (RFC 7591 through its
// dynamicClientRegistration), then uses it: a client_credentials grant
// with the secret the registration returned. Run by TestOpenIDClientRegisters
// as: node register.mjs ISSUER INITIAL_ACCESS_TOKEN
// It prints one JSON object: what the registration and the grant returned.
import * as client from 'openid-client';

const [issuer, initialAccessToken] = process.argv.slice(2);
const config = await client.dynamicClientRegistration(
  new URL(issuer),
  {
    client_name: 'openid-client unit',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid',
    software_id: 'ignored-by-latchkey',
  },
  client.ClientSecretBasic(),
  { initialAccessToken, execute: [client.allowInsecureRequests] },
);
const registered = config.clientMetadata();
const tokens = await client.clientCredentialsGrant(config, { scope: 'openid' });
console.log(JSON.stringify({
  client_id: registered.client_id,
  client_secret: registered.client_secret,
  registration_access_token: registered.registration_access_token,
  registration_client_uri: registered.registration_client_uri,
  access_token: tokens.access_token,
  token_type: tokens.token_type,
}));
