using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers.OpenAI;

/// <summary>
/// OpenAI and every server that speaks its Chat Completions API (vLLM, Ollama's <c>/v1</c>, LM Studio,
/// Together, Groq...): the body passes through with only <c>model</c> rewritten, the answer untouched.
/// An embeddings deployment's requests go to <c>{BaseUrl}/embeddings</c> alike.
/// </summary>
public sealed class OpenAIAdapter : IProviderAdapter
{
    public string Name => ProviderNames.OpenAI;

    public bool TranslatesAnswer(ModelApi api) => DoorTranslation.Applies(api);

    public Uri RequestUri(DeploymentOptions options) =>
        new(options.BaseUrl.TrimEnd('/') + (options.Kind == DeploymentKinds.Embeddings ? "/embeddings" : "/chat/completions"));

    public HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, endpoint.RequestUri)
        {
            Content = DoorTranslation.Applies(request.Api)
                ? DoorTranslation.Content(request, endpoint.Model)
                : new ModelRewriteContent(request.Body, request.ModelToken, endpoint.ModelJsonToken, request.AddIncludeUsage),
        };
        message.Headers.Authorization = endpoint.BearerAuthorization;
        return message;
    }

    public Stream ReadAnswer(HttpResponseMessage response, Stream answer, ModelApi api) =>
        DoorTranslation.Applies(api) ? DoorTranslation.ReadAnswer(response, answer, api) : answer;
}
