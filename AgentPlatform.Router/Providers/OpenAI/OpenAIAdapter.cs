using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers.OpenAI;

/// <summary>
/// OpenAI and every server that speaks its Chat Completions API (vLLM, Ollama's <c>/v1</c>, LM Studio,
/// Together, Groq...): the body passes through with only <c>model</c> rewritten, the answer untouched.
/// An embeddings deployment's requests go to <c>{BaseUrl}/embeddings</c> alike; a deployment with the Responses
/// API takes Responses requests at <c>{BaseUrl}/responses</c>.
/// </summary>
public sealed class OpenAIAdapter : IProviderAdapter
{
    public string Name => ProviderNames.OpenAI;

    public bool TranslatesAnswer(ProviderEndpoint endpoint, ModelApi api) => DoorTranslation.Applies(endpoint, api);

    public Uri RequestUri(DeploymentOptions options) =>
        new(options.BaseUrl.TrimEnd('/') + (options.Kind == DeploymentKinds.Embeddings ? "/embeddings" : "/chat/completions"));

    public Uri? ResponsesUri(DeploymentOptions options) => new(options.BaseUrl.TrimEnd('/') + "/responses");

    public HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        var (uri, content) = DoorTranslation.OpenAIRequest(endpoint, request);
        var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        message.Headers.Authorization = endpoint.BearerAuthorization;
        return message;
    }

    public Stream ReadAnswer(ProviderEndpoint endpoint, HttpResponseMessage response, Stream answer, ModelApi api) =>
        DoorTranslation.Applies(endpoint, api) ? DoorTranslation.ReadAnswer(response, answer, api) : answer;
}
