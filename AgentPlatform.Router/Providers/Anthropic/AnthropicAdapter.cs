using System.Net.Http.Headers;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers.Anthropic;

/// <summary>
/// Anthropic's Messages API (<c>{BaseUrl}/v1/messages</c>, <c>x-api-key</c>, <c>anthropic-version</c>).
/// A request through the Messages door passes through with only <c>model</c> rewritten (every Anthropic
/// feature works: prompt caching, thinking, tools, images, documents; the client's <c>anthropic-version</c>
/// and <c>anthropic-beta</c> go along) and its answer comes back untouched. A chat completion is
/// translated both ways so clients keep speaking OpenAI's Chat Completions. The translation is written
/// here rather than through Anthropic's SDK: the Router needs the raw stream (to relay events as they
/// come, under its own timeouts and retries) which the SDK's client does not hand out.
/// </summary>
public sealed class AnthropicAdapter(TimeProvider timeProvider) : IProviderAdapter
{
    public const string ApiVersion = "2023-06-01";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    public string Name => ProviderNames.Anthropic;

    public bool TranslatesAnswer(ProviderEndpoint endpoint, ModelApi api) => api != ModelApi.Messages;

    /// <summary>A Responses request goes through Chat Completions: said as a chat request, then as Anthropic's.</summary>
    private static ReadOnlySpan<byte> ChatBody(ChatRequestBody request, ProviderEndpoint endpoint) =>
        request.Api == ModelApi.Responses ? JsonSerializer.SerializeToUtf8Bytes(DoorTranslation.ChatRequest(request, endpoint.Model)) : request.Body.Span;

    public Uri RequestUri(DeploymentOptions options) => new(options.BaseUrl.TrimEnd('/') + "/v1/messages");

    public HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        if (request.Api == ModelApi.Messages)
        {
            return PassThrough(endpoint, request);
        }
        System.Text.Json.Nodes.JsonObject translated;
        try
        {
            translated = AnthropicRequestTranslator.Translate(ChatBody(request, endpoint), endpoint.Model, endpoint.MaxOutputTokens, out _);
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

    private static HttpRequestMessage PassThrough(ProviderEndpoint endpoint, ChatRequestBody request)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, endpoint.RequestUri)
        {
            Content = new ModelRewriteContent(request.Body, request.ModelToken, endpoint.ModelJsonToken),
        };
        message.Headers.TryAddWithoutValidation("anthropic-version", request.AnthropicHeaders.Version ?? ApiVersion);
        if (request.AnthropicHeaders.Beta is { Length: > 0 } beta)
        {
            message.Headers.TryAddWithoutValidation("anthropic-beta", beta);
        }
        if (endpoint.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", key);
        }
        return message;
    }

    public Stream ReadAnswer(ProviderEndpoint endpoint, HttpResponseMessage response, Stream answer, ModelApi api)
    {
        if (api == ModelApi.Messages)
        {
            return answer;
        }
        if (api == ModelApi.Responses)
        {
            return DoorTranslation.ReadAnswer(response, ReadAnswer(endpoint, response, answer, ModelApi.ChatCompletions), api);
        }
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        if (!response.IsSuccessStatusCode)
        {
            return new TranslatedJsonStream(answer, AnthropicAnswerTranslator.WriteError, static (output, text) =>
            {
                using var writer = new Utf8JsonWriter(output);
                AnthropicAnswerTranslator.WriteErrorObject(writer, text, "upstream_error");
            });
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
