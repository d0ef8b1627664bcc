using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers.AzureOpenAI;

/// <summary>
/// Azure OpenAI: OpenAI's body and answer, at
/// <c>{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...</c> (<c>/embeddings</c> for
/// an embeddings deployment) with an
/// <c>api-key</c> header; Responses requests, at a deployment with the Responses API, at <c>{endpoint}/openai/v1/responses</c>. The deployment's <c>Model</c> is the Azure deployment name.
/// </summary>
public sealed class AzureOpenAIAdapter : IProviderAdapter
{
    /// <summary>The GA API version used when a deployment sets none.</summary>
    public const string DefaultApiVersion = "2024-10-21";

    public string Name => ProviderNames.AzureOpenAI;

    public bool TranslatesAnswer(ProviderEndpoint endpoint, ModelApi api) => DoorTranslation.Applies(endpoint, api);

    public Uri RequestUri(DeploymentOptions options) => new(
        $"{options.BaseUrl.TrimEnd('/')}/openai/deployments/{Uri.EscapeDataString(options.Model)}/{(options.Kind == DeploymentKinds.Embeddings ? "embeddings" : "chat/completions")}" +
        $"?api-version={Uri.EscapeDataString(options.ApiVersion ?? DefaultApiVersion)}");

    /// <summary>Azure's v1 API, which takes the deployment in the body's <c>model</c> and needs no api-version.</summary>
    public Uri? ResponsesUri(DeploymentOptions options) => new($"{options.BaseUrl.TrimEnd('/')}/openai/v1/responses");

    public HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        // Azure routes chat by the URL and ignores the body's model; it is rewritten all the same so the provider
        // never sees the client's group name (and its v1 Responses API takes the deployment from it).
        var (uri, content) = DoorTranslation.OpenAIRequest(endpoint, request);
        var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        if (endpoint.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("api-key", key);
        }
        return message;
    }

    public Stream ReadAnswer(ProviderEndpoint endpoint, HttpResponseMessage response, Stream answer, ModelApi api) =>
        DoorTranslation.Applies(endpoint, api) ? DoorTranslation.ReadAnswer(response, answer, api) : answer;
}
