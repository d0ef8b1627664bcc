using System.Net.Http.Headers;
using System.Text.Json;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers.Anthropic;

/// <summary>
/// Anthropic's Messages API (<c>{BaseUrl}/v1/messages</c>, <c>x-api-key</c>, <c>anthropic-version</c>),
/// translated both ways so clients keep speaking OpenAI's Chat Completions. The translation is written
/// here rather than through Anthropic's SDK: the Router needs the raw stream (to relay events as they
/// come, under its own timeouts and retries) which the SDK's client does not hand out.
/// </summary>
public sealed class AnthropicAdapter(TimeProvider timeProvider) : IProviderAdapter
{
    public const string ApiVersion = "2023-06-01";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    public string Name => ProviderNames.Anthropic;

    public bool TranslatesAnswer => true;

    public Uri RequestUri(DeploymentOptions options) => new(options.BaseUrl.TrimEnd('/') + "/v1/messages");

    public HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        System.Text.Json.Nodes.JsonObject translated;
        try
        {
            translated = AnthropicRequestTranslator.Translate(request.Body.Span, endpoint.Model, endpoint.MaxOutputTokens, out _);
        }
        catch (JsonException exception)
        {
            throw new UntranslatableRequestException($"The request body is not valid JSON: {exception.Message}", null);
        }
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(translated));
        content.Headers.ContentType = JsonContentType;
        var message = new HttpRequestMessage(HttpMethod.Post, endpoint.RequestUri) { Content = content };
        message.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
        if (endpoint.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", key);
        }
        return message;
    }

    public Stream ReadAnswer(HttpResponseMessage response, Stream answer)
    {
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        if (!response.IsSuccessStatusCode)
        {
            return new TranslatedJsonStream(answer, AnthropicAnswerTranslator.WriteError, isError: true);
        }
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            // Anthropic always reports usage: the usage chunk is always written, and the Router hides
            // it from a client that did not ask for it, as it does for the other providers.
            return new AnthropicEventStream(answer, includeUsage: true, created);
        }
        return new TranslatedJsonStream(answer, (output, message) => AnthropicAnswerTranslator.WriteCompletion(output, message, created));
    }

}
