using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Providers.Messages;
using AgentPlatform.Router.Providers.Responses;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// A request through the Messages or the Responses door at a deployment that speaks OpenAI's Chat Completions
/// (OpenAI, Azure OpenAI, every OpenAI-compatible server — and, through its own translation, Anthropic for
/// Responses): the body said as a chat request, the chat answer said back in the door's format, JSON, stream
/// and errors alike.
/// </summary>
internal static class DoorTranslation
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    /// <summary>Whether the door's requests are translated to chat requests (every door but chat completions and embeddings).</summary>
    public static bool Applies(ModelApi api) => api is ModelApi.Messages or ModelApi.Responses;

    /// <summary>Whether the door's requests are translated at this deployment: not Responses at one that answers the Responses API itself.</summary>
    public static bool Applies(ProviderEndpoint endpoint, ModelApi api) => Applies(api) && !PassesResponsesThrough(endpoint, api);

    private static bool PassesResponsesThrough(ProviderEndpoint endpoint, ModelApi api) => api == ModelApi.Responses && endpoint.ResponsesUri is not null;

    /// <summary>
    /// Where a request goes at a deployment that speaks OpenAI's APIs, and its body: a Responses request passed
    /// through to a deployment with the Responses API, a Messages or Responses request said in Chat Completions,
    /// and a chat completion or embeddings request passed through with only <c>model</c> rewritten.
    /// </summary>
    public static (Uri Uri, HttpContent Content) OpenAIRequest(ProviderEndpoint endpoint, ChatRequestBody request) =>
        PassesResponsesThrough(endpoint, request.Api) ? (endpoint.ResponsesUri!, ResponsesPassThrough(request, endpoint.Model))
        : Applies(request.Api) ? (endpoint.RequestUri, Content(request, endpoint.Model))
        : (endpoint.RequestUri, new ModelRewriteContent(request.Body, request.ModelToken, endpoint.ModelJsonToken, request.AddIncludeUsage));

    /// <summary>
    /// A Responses request as the deployment takes it: the client's body with <c>model</c> rewritten and <c>store</c>
    /// false — the platform keeps the conversation (the client's <c>previous_response_id</c> is already expanded),
    /// so the provider keeps no copy the client could neither read back nor delete. Parsed and written again
    /// rather than spliced as a chat body is: <c>store</c> must be replaced wherever it is, and this door is
    /// not the chat hot path.
    /// </summary>
    private static HttpContent ResponsesPassThrough(ChatRequestBody request, string model)
    {
        JsonObject body;
        try
        {
            body = JsonNode.Parse(request.Body.Span) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException exception)
        {
            throw new UntranslatableRequestException($"The request body is not valid JSON: {exception.Message}", null);
        }
        body["model"] = model;
        body["store"] = false;
        return Json(JsonSerializer.SerializeToUtf8Bytes(body));
    }

    /// <summary>The chat request for the door's request, to the deployment's model; throws <see cref="UntranslatableRequestException"/>.</summary>
    public static JsonObject ChatRequest(ChatRequestBody request, string model)
    {
        try
        {
            return request.Api == ModelApi.Messages
                ? MessagesRequestTranslator.Translate(request.Body.Span, model)
                : ResponsesRequestTranslator.Translate(request.Body.Span, model);
        }
        catch (JsonException exception)
        {
            throw new UntranslatableRequestException($"The request body is not valid JSON: {exception.Message}", null);
        }
    }

    /// <summary>The chat request as the body to send.</summary>
    public static HttpContent Content(ChatRequestBody request, string model) => Json(JsonSerializer.SerializeToUtf8Bytes(ChatRequest(request, model)));

    public static HttpContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = JsonContentType;
        return content;
    }

    /// <summary>The chat answer in the door's format (a Responses error keeps OpenAI's shape, which the two APIs share).</summary>
    public static Stream ReadAnswer(HttpResponseMessage response, Stream answer, ModelApi api)
    {
        var status = (int)response.StatusCode;
        var isEventStream = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
        if (api == ModelApi.Responses)
        {
            return !response.IsSuccessStatusCode ? answer
                : isEventStream ? new ResponsesEventStream(answer)
                : new TranslatedJsonStream(answer, ResponsesAnswerTranslator.WriteResponse);
        }
        if (!response.IsSuccessStatusCode)
        {
            return new TranslatedJsonStream(answer, (output, error) => MessagesAnswerTranslator.WriteError(output, error, status),
                (output, text) => AnthropicError.WriteJson(output, status, text, code: null));
        }
        return isEventStream ? new MessagesEventStream(answer) : new TranslatedJsonStream(answer, MessagesAnswerTranslator.WriteMessage);
    }
}
