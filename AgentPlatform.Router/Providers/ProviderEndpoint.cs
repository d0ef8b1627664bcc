using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// One deployment as its adapter calls it, computed once rather than per request: where requests go,
/// the provider's model name, the key and how it is presented.
/// </summary>
public sealed class ProviderEndpoint
{
    public ProviderEndpoint(DeploymentOptions options, Uri requestUri, Uri? responsesUri = null)
    {
        RequestUri = requestUri;
        ResponsesUri = responsesUri;
        Model = options.Model;
        MaxOutputTokens = options.MaxOutputTokens;
        ApiKey = options.ApiKey;
        BearerAuthorization = string.IsNullOrEmpty(options.ApiKey) ? null : new AuthenticationHeaderValue("Bearer", options.ApiKey);
        // Relaxed escaping: the token goes into a JSON body for an API, never into HTML, so a quote is
        // written \" as a person would write it rather than \u0022.
        ModelJsonToken = JsonSerializer.SerializeToUtf8Bytes(options.Model, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public Uri RequestUri { get; }

    /// <summary>Where Responses requests go when the deployment answers the Responses API itself; null when it does not.</summary>
    public Uri? ResponsesUri { get; }

    /// <summary>The provider's model name (for Azure OpenAI, the deployment's name there).</summary>
    public string Model { get; }

    /// <summary>The most tokens the deployment generates for one answer; null when not configured.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary>The provider key, for adapters to put where their provider wants it; never logged or shown.</summary>
    internal string? ApiKey { get; }

    /// <summary><c>Authorization: Bearer</c> with the key, for providers that take it so.</summary>
    public AuthenticationHeaderValue? BearerAuthorization { get; }

    /// <summary>The model name as a JSON string token (quoted, escaped), spliced into each request.</summary>
    public byte[] ModelJsonToken { get; }

    // The key stays out of every string form.
    public override string ToString() => $"{Model} at {RequestUri}";
}
