using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers.AzureOpenAI;

/// <summary>
/// Azure OpenAI: OpenAI's body and answer, at
/// <c>{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...</c> (<c>/embeddings</c> for
/// an embeddings deployment) with an
/// <c>api-key</c> header. The deployment's <c>Model</c> is the Azure deployment name.
/// </summary>
public sealed class AzureOpenAIAdapter : IProviderAdapter
{
    /// <summary>The GA API version used when a deployment sets none.</summary>
    public const string DefaultApiVersion = "2024-10-21";

    public string Name => ProviderNames.AzureOpenAI;

    public bool TranslatesAnswer(ModelApi api) => DoorTranslation.Applies(api);

    public Uri RequestUri(DeploymentOptions options) => new(
        $"{options.BaseUrl.TrimEnd('/')}/openai/deployments/{Uri.EscapeDataString(options.Model)}/{(options.Kind == DeploymentKinds.Embeddings ? "embeddings" : "chat/completions")}" +
        $"?api-version={Uri.EscapeDataString(options.ApiVersion ?? DefaultApiVersion)}");

    public HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, endpoint.RequestUri)
        {
            // Azure routes by the URL and ignores the body's model; it is rewritten all the same so
            // the provider never sees the client's group name.
            Content = DoorTranslation.Applies(request.Api)
                ? DoorTranslation.Content(request, endpoint.Model)
                : new ModelRewriteContent(request.Body, request.ModelToken, endpoint.ModelJsonToken, request.AddIncludeUsage),
        };
        if (endpoint.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("api-key", key);
        }
        return message;
    }

    public Stream ReadAnswer(HttpResponseMessage response, Stream answer, ModelApi api) =>
        DoorTranslation.Applies(api) ? DoorTranslation.ReadAnswer(response, answer, api) : answer;
}
