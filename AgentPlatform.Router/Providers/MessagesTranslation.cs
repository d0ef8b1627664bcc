using System.Net.Http.Headers;
using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Providers.Messages;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// An Anthropic Messages request at a deployment that speaks OpenAI's Chat Completions (OpenAI, Azure OpenAI,
/// every OpenAI-compatible server): the body translated to a chat request and the answer back to a message,
/// JSON, stream and errors alike (<see cref="MessagesRequestTranslator"/>, <see cref="MessagesAnswerTranslator"/>,
/// <see cref="MessagesEventStream"/>).
/// </summary>
internal static class MessagesTranslation
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    /// <summary>The chat request for a Messages request, to the deployment's model; throws <see cref="UntranslatableRequestException"/>.</summary>
    public static HttpContent Content(ChatRequestBody request, string model)
    {
        System.Text.Json.Nodes.JsonObject chat;
        try
        {
            chat = MessagesRequestTranslator.Translate(request.Body.Span, model);
        }
        catch (JsonException exception)
        {
            throw new UntranslatableRequestException($"The request body is not valid JSON: {exception.Message}", null);
        }
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(chat));
        content.Headers.ContentType = JsonContentType;
        return content;
    }

    /// <summary>The chat answer as a Messages answer.</summary>
    public static Stream ReadAnswer(HttpResponseMessage response, Stream answer)
    {
        var status = (int)response.StatusCode;
        if (!response.IsSuccessStatusCode)
        {
            return new TranslatedJsonStream(answer, (output, error) => MessagesAnswerTranslator.WriteError(output, error, status),
                (output, text) => AnthropicError.WriteJson(output, status, text, code: null));
        }
        return response.Content.Headers.ContentType?.MediaType == "text/event-stream"
            ? new MessagesEventStream(answer)
            : new TranslatedJsonStream(answer, MessagesAnswerTranslator.WriteMessage);
    }

    /// <summary>Whether the request came through the Messages door (its answers are then translated).</summary>
    public static bool Applies(ModelApi api) => api == ModelApi.Messages;
}
