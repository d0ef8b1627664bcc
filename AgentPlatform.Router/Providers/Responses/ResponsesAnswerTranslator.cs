using System.Buffers;
using System.Text.Json;

namespace AgentPlatform.Router.Providers.Responses;

/// <summary>Chat Completions answers said in the Responses API: a completion as a response; errors keep OpenAI's shape, which both share.</summary>
public static class ResponsesAnswerTranslator
{
    public static void WriteResponse(IBufferWriter<byte> output, JsonElement completion)
    {
        using var writer = new Utf8JsonWriter(output);
        ResponseDraft.Of(completion).Write(writer);
    }
}
