namespace AgentPlatform.Contracts.Http;

/// <summary>Headers the Api sends the Router beside a chat completion.</summary>
public static class RouterRequestHeaders
{
    /// <summary>
    /// Who the request is from — the tenant's id, else the key's — so a failure the request may have
    /// caused itself counts against a deployment only when other clients' requests fail alike.
    /// </summary>
    public const string Client = "x-agentplatform-client";
}
